// Who is logged in and what their role may do. The server decides; this
// only hides buttons that would be refused.

const ROLE_MAY = {
  ack: ["operator", "admin"],
  report: ["patrol", "operator", "technician", "admin"],
  dispatch: ["operator", "admin"],
  tech: ["technician", "admin"],
  rules: ["engineer", "admin"],
  stats: ["operator", "admin"],
};

export const session = {
  me: null,
  may(what) {
    if (!this.me) return false;
    if (this.me.may && what in this.me.may) return !!this.me.may[what];
    return (ROLE_MAY[what] || []).includes(this.me.role);
  },
};
