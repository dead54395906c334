// Who is logged in and what their role may do, as /api/me says (its "may":
// every permission of the role). The server decides; this only hides
// buttons that would be refused.

export const session = {
  me: null,
  may(what) {
    return !!(this.me && this.me.may && this.me.may[what]);
  },
};
