package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"github.com/pbkeys/pbkeys/internal/events"
	"github.com/pbkeys/pbkeys/internal/humanize"
	"github.com/pbkeys/pbkeys/internal/keystore"
)

func newEventsCommand(app core.App, store *keystore.Store) *cobra.Command {
	var asJSON bool
	command := &cobra.Command{
		SilenceUsage: true,
		Use:          "events ID [--json]",
		Short:        "Show what was done to a key, by whom and from where",
		Long: fmt.Sprintf(`Show a key's events, newest first: when it was created, rolled, disabled,
enabled, given other permissions or addresses, revoked (by a person or as
leaked), when it expired and when its owner was reminded of the expiry —
each with who did it (owner, superuser, CLI, leak report, system), the client
address and user agent. Events are kept %d days, also for revoked keys.

--json prints what GET /api/api-keys/{id}/events answers:
{"items":[{"action":"created","actor":{"kind":"owner","id":"..."},...}, ...]}.`, int(events.Retention/(24*time.Hour))),
		Example: `  pbkeys apikeys events k1alice00000001
  pbkeys apikeys events k1alice00000001 --json | jq '.items[] | select(.action == "revoked")'`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return errors.New("Name the key by id (see \"apikeys list\").")
			case len(args) > 1:
				return fmt.Errorf("Show one key at a time: %s takes a single id, got %d.", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			id := strings.TrimSpace(args[0])
			list, err := events.List(app, id, nil)
			if err != nil {
				return fmt.Errorf("cli: read events of %s: %w", id, err)
			}
			if len(list) == 0 {
				if _, err := store.Find(id); err != nil {
					return fmt.Errorf("No API key with the id %q, and no events of one.", id)
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(events.Page{Items: list})
			}
			label := "revoked"
			if key, err := store.Find(id); err == nil {
				label = fmt.Sprintf("%q of %s", key.GetString(keystore.FieldLabel), newOwners(store).name(key))
			} else if len(list) > 0 {
				label = fmt.Sprintf("%q, revoked", list[0].Label)
			}
			fmt.Fprintf(out, "%s %s: %s (UTC, newest first).\n", id, label, humanize.Plural(len(list), "event", "events"))
			if len(list) == 0 {
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tACTION\tBY\tIP\tUSER AGENT\tDETAIL")
			for _, e := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n",
					e.Created.Time().UTC().Format(time.DateTime), e.Action, humanize.EventActor(e.Actor),
					orDash(e.IP), orDash(tabless(e.UserAgent)), orDash(tabless(humanize.EventDetail(e))))
			}
			return tw.Flush()
		},
	}
	command.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return command
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// tabless keeps a value from breaking the table's columns.
func tabless(s string) string {
	return strings.ReplaceAll(s, "\t", " ")
}
