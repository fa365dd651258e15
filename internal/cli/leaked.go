package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"github.com/pbkeys/pbkeys/internal/apikey"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/leaks"
)

// maxTokenLine bounds a line of the tokens file: a key is 69 characters,
// and a line far longer is not a token list.
const maxTokenLine = 64 << 10

func newLeakedCommand(app core.App, store *keystore.Store, revoker *leaks.Revoker) *cobra.Command {
	var where string
	command := &cobra.Command{
		SilenceUsage: true,
		Use:          "leaked FILE",
		Short:        "Revoke keys found exposed, from a file of tokens (one per line)",
		Long: `Revoke API keys that were found exposed (in a repository, a CI log, a chat),
given a file with one token per line; "-" reads standard input. Blank lines
and lines starting with # are skipped.

Each token is checked like a key presented to the API: its format and
checksum, its key id, its secret. Every live key is revoked at once, open
realtime connections included, and its owner is emailed which key, where it
was found (--url) and when. A line that is not a live key of this server
changes nothing. Nothing printed contains a token: revoked keys are named by
id, other lines by number. Keys reported by GitHub's secret scanning are
revoked the same way (POST /api/api-keys/leaked).`,
		Example: `  pbkeys apikeys leaked tokens.txt --url https://ci.example.com/builds/1234
  grep -ohE '` + apikey.Pattern + `' *.log | pbkeys apikeys leaked -`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return errors.New(`Name one file of tokens, one per line ("-" for standard input).`)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			tokens, err := readTokens(cmd.InOrStdin(), name)
			if err != nil {
				return err
			}
			if len(tokens) == 0 {
				return fmt.Errorf("There are no tokens in %s: give one token per line.", displayName(name))
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			leak := leaks.Leak{URL: strings.TrimSpace(where), ReportedBy: "an operator, " + userAgent(), By: cliOrigin()}
			out := cmd.OutOrStdout()

			var revoked int
			var notKeys, unchecked []string
			defer store.WaitNotifications() // the owners' mails go before the process ends
			for _, t := range tokens {
				res, err := revoker.Revoke(ctx, t.token, leak, "local")
				if err != nil {
					return fmt.Errorf("cli: line %d: %w", t.line, err)
				}
				switch res.Outcome {
				case leaks.Revoked:
					revoked++
					_, err = fmt.Fprintf(out, "Revoked %s %q of %s (line %d).\n",
						res.KeyID, res.Key.GetString(keystore.FieldLabel), ownerName(res.Owner), t.line)
				case leaks.AlreadyRevoked:
					_, err = fmt.Fprintf(out, "Line %d: %s is already revoked.\n", t.line, res.KeyID)
				case leaks.Unchecked:
					unchecked = append(unchecked, strconv.Itoa(t.line))
				default:
					notKeys = append(notKeys, strconv.Itoa(t.line))
				}
				if err != nil {
					return err
				}
			}
			if len(notKeys) > 0 {
				fmt.Fprintf(out, "Not a live API key of this server, nothing done: %s %s.\n",
					plural(len(notKeys), "line", "lines"), strings.Join(notKeys, ", "))
			}
			switch {
			case revoked > 0:
				fmt.Fprintf(out, "Revoked %d API %s; the owners are notified by email (mail failures are logged).\n",
					revoked, plural(revoked, "key", "keys"))
			case len(unchecked) == 0:
				fmt.Fprintln(out, "No live API key found: nothing was revoked.")
			}
			if len(unchecked) > 0 {
				return fmt.Errorf("%s %s could not be checked now (too many failed attempts for the key id, or the server is busy verifying keys): run the command again for them.",
					capitalize(plural(len(unchecked), "line", "lines")), strings.Join(unchecked, ", "))
			}
			return nil
		},
	}
	command.Flags().StringVar(&where, "url", "", "where the keys were found, for the owners' email (e.g. the URL of a CI log)")
	return command
}

type tokenLine struct {
	token string
	line  int
}

// readTokens reads the tokens of the file name ("-": in), one per line,
// skipping blank lines and # comments.
func readTokens(in io.Reader, name string) ([]tokenLine, error) {
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("Cannot read the tokens: %v.", err)
		}
		defer f.Close()
		in = f
	}
	scanner := bufio.NewScanner(in)
	scanner.Buffer(make([]byte, 0, 4096), maxTokenLine)
	var tokens []tokenLine
	n := 0
	for scanner.Scan() {
		n++
		t := strings.TrimSpace(scanner.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		tokens = append(tokens, tokenLine{token: t, line: n})
	}
	if err := scanner.Err(); errors.Is(err, bufio.ErrTooLong) {
		return nil, fmt.Errorf("Line %d of %s is longer than %d KiB: give one token per line.", n+1, displayName(name), maxTokenLine>>10)
	} else if err != nil {
		return nil, fmt.Errorf("Cannot read the tokens from %s: %v.", displayName(name), err)
	}
	return tokens, nil
}

func displayName(name string) string {
	if name == "-" {
		return "standard input"
	}
	return name
}

// ownerName says who owns a key, for people: the owner's email, or its id.
func ownerName(owner *core.Record) string {
	if owner == nil {
		return "an unknown owner"
	}
	if email := owner.Email(); email != "" {
		return email
	}
	return owner.Id
}
