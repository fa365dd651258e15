package cli

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"github.com/pbkeys/pbkeys/internal/humanize"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/usage"
)

func newUsageCommand(app core.App, store *keystore.Store) *cobra.Command {
	var asJSON bool
	command := &cobra.Command{
		SilenceUsage: true,
		Use:          "usage ID [--json]",
		Short:        fmt.Sprintf("Show a key's requests per day over the last %d days", usage.Window),
		Long: fmt.Sprintf(`Show how many requests a key made on each of the last %d days (UTC, today
included), oldest first, every day listed, and their total.

`, usage.Window) + `Counts are kept in memory and written with the key's "last used" time: at
most a minute behind while the server runs, and written at shutdown. --json
prints what GET /api/api-keys/{id}/usage answers:
[{"day":"2026-11-30","requests":12}, ...].`,
		Example: `  pbkeys apikeys usage k1alice00000001
  pbkeys apikeys usage k1alice00000001 --json | jq 'map(.requests) | add'`,
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
			key, err := store.Find(id)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("No API key with the id %q.", id)
			} else if err != nil {
				return fmt.Errorf("cli: find key %s: %w", id, err)
			}
			daily, err := usage.Daily(app, []string{id}, time.Now())
			if err != nil {
				return fmt.Errorf("cli: read usage of %s: %w", id, err)
			}
			days := daily[id]
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(days)
			}
			fmt.Fprintf(out, "%s %q of %s: %s in the last %d days (UTC).\n",
				key.Id, key.GetString(keystore.FieldLabel), newOwners(store).name(key),
				humanize.Plural(int(usage.Total(days)), "request", "requests"), usage.Window)
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "DAY\tREQUESTS")
			for _, d := range days {
				fmt.Fprintf(tw, "%s\t%d\n", d.Day, d.Requests)
			}
			return tw.Flush()
		},
	}
	command.Flags().BoolVar(&asJSON, "json", false, "print a JSON array instead of a table")
	return command
}
