package hooks_test

import (
	"net/http"
	"testing"

	"github.com/pocketbase/pocketbase/tests"

	"pbkeys/internal/pbtest"
)

func TestSmoke(t *testing.T) {
	s := tests.ApiScenario{
		Name:            "alice key views alice note",
		Method:          http.MethodGet,
		URL:             "/api/collections/notes/records/" + pbtest.AliceNoteID,
		Headers:         map[string]string{"Authorization": "Bearer " + pbtest.AliceKey},
		ExpectedStatus:  200,
		ExpectedContent: []string{`"title":"Alice's note"`},
		TestAppFactory:  pbtest.Factory(),
	}
	s.Test(t)
}
