package web

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode"

	"github.com/pocketbase/pocketbase/core"
)

// formFields are the names of the fields a page's form posts: all of
// them on everyone's form, admin only on an administrator's (who names
// the owner). Each key form declares its own beside its handler, and
// register.go puts onlyFields in front of the handler with them.
type formFields struct {
	all, admin []string

	// access: the form has the permission editor, whose rows are fields
	// too: one per collection it offers, the other collections and the
	// app's routes (isPermField). A row for any other collection is not a
	// field of the form.
	access bool
}

// has reports whether user's form, which offers the collections offered
// in its permission editor, has the field name.
func (f formFields) has(user *core.Record, name string, offered []string) bool {
	return slices.Contains(f.all, name) || user.IsSuperuser() && slices.Contains(f.admin, name) ||
		f.access && isPermField(name, offered)
}

// onlyFields refuses a posted form with a field that the signed-in
// account's form does not have: 400, with a page naming the field, before
// the handler runs — so nothing is created or changed and a create form's
// one-time nonce stays unused. Such a field is a mistake (a misspelt
// "acess" would otherwise make a key with full access, a row for a
// collection the form does not offer would be quietly left out) or did
// not come from our page; the REST API and batch refuse an unknown
// api_keys field the same way. Only the field's name is shown, never its
// value.
func (p *pages) onlyFields(fields formFields) func(e *core.RequestEvent) error {
	return func(e *core.RequestEvent) error {
		if err := readForm(e); err != nil {
			return err
		}
		user := userFrom(e)
		var offered []string
		if fields.access {
			var err error
			if offered, err = p.keyCollections(); err != nil {
				return e.InternalServerError("", err)
			}
		}
		var unknown []string
		for name := range e.Request.PostForm {
			if !fields.has(user, name, offered) {
				unknown = append(unknown, name)
			}
		}
		if len(unknown) == 0 {
			return e.Next()
		}
		slices.Sort(unknown)
		return p.renderError(e, http.StatusBadRequest, fmt.Sprintf(
			"This form has a field that this page does not know: \u201c%s\u201d. Nothing was changed. Reload the page and use its form.",
			shownFieldName(unknown[0])))
	}
}

// shownFieldName is a posted field name as the error page may show it:
// valid UTF-8, no control characters, at most 40 characters. (templ
// escapes it.)
func shownFieldName(name string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(name, "\uFFFD"))
	if r := []rune(name); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return name
}
