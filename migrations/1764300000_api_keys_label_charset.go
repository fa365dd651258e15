package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

func init() {
	m.Register(narrowLabelCharset, widenLabelCharset)
}

const (
	labelPatternV1 = `^[^\x00-\x1f\x7f]+$`
	// Also no C1 controls, zero-width or bidirectional-override characters:
	// a label is shown in "Revoke 'label'?" and must read as what it is.
	labelPatternV2 = `^[^\x00-\x1f\x7f-\x9f\x{200b}-\x{200f}\x{202a}-\x{202e}\x{2066}-\x{2069}\x{feff}]+$`
)

func narrowLabelCharset(app core.App) error { return setLabelPattern(app, labelPatternV2) }
func widenLabelCharset(app core.App) error  { return setLabelPattern(app, labelPatternV1) }

func setLabelPattern(app core.App, pattern string) error {
	c, err := app.FindCollectionByNameOrId("api_keys")
	if err != nil {
		return err
	}
	if f, ok := c.Fields.GetByName("label").(*core.TextField); ok {
		f.Pattern = pattern
	}
	return app.Save(c)
}
