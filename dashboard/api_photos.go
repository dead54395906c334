package dashboard

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/caretaker-iot/caretaker/ticketing"
)

// maxPhotoBody caps a photo upload request; the ticket service holds the
// (smaller) limit of the photo itself.
const maxPhotoBody = 64 << 20

// uploadPhoto answers POST /api/tickets/{id}/photos?stage=before|after&report=N:
// a multipart/form-data body whose part "photo" (or "file") is a JPEG,
// PNG or WebP image. The part is streamed to disk, never held in memory;
// its type is sniffed from the bytes, its name ignored. report names the
// report (report_id of the answer to POST /api/tickets) the photo came
// with. 201 with the photo; 403 a technician's photo of a ticket not
// theirs; 413 too large; 415 not an image of those types.
func (s *Server) uploadPhoto(w http.ResponseWriter, r *http.Request, p principal) {
	id, ok := ticketID(w, r)
	if !ok {
		return
	}
	var reportID int64
	if v := r.URL.Query().Get("report"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			writeError(w, http.StatusBadRequest, "report: "+quoteShort(v)+" is not a report id", "report")
			return
		}
		reportID = n
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "multipart/form-data" {
		writeError(w, http.StatusBadRequest, "body must be multipart/form-data with a part named photo", "photo")
		return
	}
	if !s.ticketVisible(w, r, p, id) {
		return
	}
	// A photo takes longer than the server's read timeout allows a body;
	// it gets its own deadline, once the token is known.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.TransferTimeout)) // a network deadline: the wall clock
	r.Body = http.MaxBytesReader(w, r.Body, maxPhotoBody)
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, http.StatusBadRequest, "body: "+err.Error(), "photo")
		return
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			writeError(w, http.StatusBadRequest, "photo: required (a part named photo)", "photo")
			return
		}
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "body is larger than "+strconv.Itoa(maxPhotoBody)+" bytes", "photo")
			return
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, "body: not valid multipart data", "photo")
			return
		}
		if name := part.FormName(); name != "photo" && name != "file" {
			part.Close()
			continue
		}
		ph, err := s.cfg.Tickets.AddReportPhoto(r.Context(), actor(p), id, reportID, r.URL.Query().Get("stage"), part)
		part.Close()
		if err != nil {
			if errors.As(err, &tooBig) {
				writeError(w, http.StatusRequestEntityTooLarge, "body is larger than "+strconv.Itoa(maxPhotoBody)+" bytes", "photo")
				return
			}
			s.flowError(w, r, err)
			return
		}
		w.Header().Set("Location", "/api/tickets/"+strconv.FormatInt(id, 10)+"/photos/"+strconv.FormatInt(ph.ID, 10))
		writeJSON(w, http.StatusCreated, ph)
		return
	}
}

// getPhoto answers GET /api/tickets/{id}/photos/{photo} with the image.
func (s *Server) getPhoto(w http.ResponseWriter, r *http.Request, p principal) {
	id, ok := ticketID(w, r)
	if !ok || !s.ticketVisible(w, r, p, id) {
		return
	}
	photoID, err := strconv.ParseInt(r.PathValue("photo"), 10, 64)
	if err != nil || photoID <= 0 {
		writeError(w, http.StatusBadRequest, "photo: "+quoteShort(r.PathValue("photo"))+" is not a photo id", "photo")
		return
	}
	ph, f, err := s.cfg.Tickets.OpenPhoto(r.Context(), id, photoID)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	defer f.Close()
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.cfg.TransferTimeout)) // a network deadline: the wall clock
	h := w.Header()
	h.Set("Content-Type", ph.ContentType) // sniffed at upload; only image types are stored
	h.Set("Content-Disposition", "inline")
	h.Set("Cache-Control", "private, max-age=3600")
	http.ServeContent(w, r, "", time.Time{}, f)
}

func actor(p principal) ticketing.Actor { return ticketing.Actor{Name: p.Name, Role: p.Role} }
