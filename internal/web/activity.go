package web

import (
	"database/sql"
	"errors"
	"net/http"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/pbkeys/pbkeys/internal/events"
	"github.com/pbkeys/pbkeys/internal/humanize"
	"github.com/pbkeys/pbkeys/templates"
)

// activity shows what was done to one of the user's keys (any key, for an
// admin), newest first. A revoked key's events outlive it, so its page
// stays; someone else's key id is "not found", exactly like an id that
// does not exist.
func (p *pages) activity(e *core.RequestEvent) error {
	user := userFrom(e)
	id := e.Request.PathValue("id")
	var owner *core.Record // nil: every owner's, for an admin
	if !user.IsSuperuser() {
		owner = user
	}
	list, err := events.List(p.app, id, owner)
	if err != nil {
		return e.InternalServerError("", err)
	}
	key, _, err := p.keyFor(user, id)
	switch {
	case errors.Is(err, sql.ErrNoRows) && len(list) == 0:
		return p.renderError(e, http.StatusNotFound, msgKeyNotFound)
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return e.InternalServerError("", err)
	}

	now := time.Now()
	v := templates.ActivityView{
		Account: accountView(user),
		KeyID:   id,
		Days:    int(events.Retention / (24 * time.Hour)),
	}
	if key != nil {
		row := p.keyRow(key, now)
		v.Key, v.Label = &row, row.Label
	} else {
		v.Label = list[0].Label
	}
	for _, ev := range list {
		actor := humanize.EventActor(ev.Actor)
		switch {
		case ev.Actor.Kind == events.KindOwner && !user.IsSuperuser():
			actor = "You"
		case ev.Actor.Kind == events.KindSuperuser && !user.IsSuperuser():
			actor = "An administrator"
		}
		v.Events = append(v.Events, templates.EventRow{
			Action:    ev.Action,
			Text:      humanize.EventAction(ev.Action),
			Detail:    humanize.EventDetail(ev),
			Actor:     actor,
			IP:        ev.IP,
			UserAgent: ev.UserAgent,
			Time:      timeView(ev.Created.Time(), now),
		})
	}
	return p.render(e, http.StatusOK, templates.ActivityPage(v))
}
