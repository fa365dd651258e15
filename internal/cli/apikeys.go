// Package cli is the operator's command line for API keys: "pbkeys apikeys
// create|list|revoke|disable|enable|roll|usage|events|leaked", added to PocketBase's own
// command tree. It runs in the bootstrapped app (PocketBase opens the
// database before running any command) and issues, pauses, rolls and revokes
// keys through the same keystore as the REST API and the pages.
//
// Output contract: "create" and "roll" print the key and nothing else on
// stdout, so it can be captured by a shell, and describe it on stderr;
// "list", "revoke", "disable", "enable", "usage", "events" and "leaked" print their results on
// stdout, and "leaked" never prints a token.
// Errors are sentences returned to PocketBase, which ends the process;
// main.go recognises them with IsCommandError and prints them as they are
// (no log timestamp) with exit status 1.
package cli

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"os/user"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"github.com/pbkeys/pbkeys/internal/events"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/leaks"
)

// NewAPIKeysCommand returns the "apikeys" command with its subcommands, for
// app.RootCmd.AddCommand. revoker revokes the keys "leaked" is given, as
// the server revokes reported ones.
func NewAPIKeysCommand(app core.App, store *keystore.Store, revoker *leaks.Revoker) *cobra.Command {
	command := &cobra.Command{
		Use:   "apikeys",
		Short: "Create, list, disable, roll and revoke API keys, show their usage and events, revoke leaked keys",
		Long: `Create, list, disable, enable, roll and revoke API keys, show their usage
and their events (who did what to them, and when), and revoke keys found
exposed.

A key is printed once, by "create" or "roll", and never again: pbkeys stores
only its hash. Owners (records of the owner collections, users by default)
are named by email or by record id, looked up in the owner collections in
order, or as COLLECTION/EMAIL_OR_ID (e.g. service_accounts/bot@example.com).
Times are in UTC.`,
		Example: `  pbkeys apikeys create --user alice@example.com --label CI --expires 90d
  pbkeys apikeys list --user alice@example.com
  pbkeys apikeys disable k1alice00000001
  pbkeys apikeys create --user service_accounts/bot@example.com --label "Nightly deploy"
  pbkeys apikeys roll k1alice00000001 --grace 1h
  pbkeys apikeys usage k1alice00000001
  pbkeys apikeys events k1alice00000001
  pbkeys apikeys revoke k1alice00000001
  pbkeys apikeys leaked tokens.txt --url https://ci.example.com/builds/1234`,
		SilenceUsage: true,
		// Before any subcommand touches the api_keys collection, make sure
		// its schema is the one this binary writes: an unapplied migration
		// would otherwise drop unknown fields (a key asked to expire would
		// silently never expire).
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := checkMigrations(app); err != nil {
				return err
			}
			// as the server refuses to start with them
			if _, err := store.CheckOwnerCollections(); err != nil {
				return fmt.Errorf("%s.", capitalize(strings.TrimPrefix(err.Error(), "pbkeys: ")))
			}
			return nil
		},
	}
	// PocketBase discards its root command's stderr (it prints the returned
	// error itself); our messages for people must still reach the terminal.
	command.SetErr(os.Stderr)
	command.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		// A flag value we parse ourselves says what is wrong in a sentence
		// of its own; pflag's wrapper would repeat the value and the flag.
		var sentence *flagValueError
		if errors.As(err, &sentence) {
			return &commandError{sentence}
		}
		return &commandError{fmt.Errorf("%s. Run %q for usage.", capitalize(err.Error()), cmd.CommandPath()+" --help")}
	})

	command.AddCommand(
		newCreateCommand(app, store),
		newListCommand(app, store),
		newRevokeCommand(app, store),
		newSetDisabledCommand(app, store, true),
		newSetDisabledCommand(app, store, false),
		newRollCommand(app, store),
		newUsageCommand(app, store),
		newEventsCommand(app, store),
		newLeakedCommand(app, store, revoker),
	)
	markErrors(command)
	return command
}

// commandError is an error of an apikeys command: its text is a sentence
// for the operator, to be printed as it is.
type commandError struct{ err error }

func (e *commandError) Error() string { return e.err.Error() }
func (e *commandError) Unwrap() error { return e.err }

// IsCommandError reports whether err (as returned by PocketBase's Start)
// comes from an apikeys command. Such errors are sentences: main prints
// them without a log timestamp. PocketBase's own commands' errors are not
// affected.
func IsCommandError(err error) bool {
	var ce *commandError
	return errors.As(err, &ce)
}

// markErrors makes every error that c and its subcommands return (argument
// checks, the pre-run check, the command itself) a commandError.
func markErrors(c *cobra.Command) {
	mark := func(err error) error {
		var ce *commandError
		if err == nil || errors.As(err, &ce) {
			return err
		}
		return &commandError{err}
	}
	if f := c.RunE; f != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error { return mark(f(cmd, args)) }
	}
	if f := c.PersistentPreRunE; f != nil {
		c.PersistentPreRunE = func(cmd *cobra.Command, args []string) error { return mark(f(cmd, args)) }
	}
	if f := c.Args; f != nil {
		c.Args = func(cmd *cobra.Command, args []string) error { return mark(f(cmd, args)) }
	}
	for _, sub := range c.Commands() {
		markErrors(sub)
	}
}

// flagValueError is a flag value's own complaint, already a sentence
// naming the flag.
type flagValueError struct{ msg string }

func (e *flagValueError) Error() string { return e.msg }

// rateFlag is --rate: a whole number, refused with a sentence rather than
// strconv's "parsing "abc": invalid syntax".
type rateFlag struct{ n *int }

func (r rateFlag) String() string {
	if r.n == nil {
		return "0"
	}
	return strconv.Itoa(*r.n)
}

func (r rateFlag) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return &flagValueError{fmt.Sprintf("--rate: %q is not a whole number of requests per minute (0 for no limit).", s)}
	}
	*r.n = n
	return nil
}

func (rateFlag) Type() string { return "int" }

// ignoreSIGPIPE makes a write to a closed pipe (stdout piped into a reader
// that exited) return EPIPE instead of killing the process, so that a key
// nobody can read is revoked rather than left working. Call it before
// printing a key.
func ignoreSIGPIPE() { signal.Ignore(syscall.SIGPIPE) }

// checkMigrations refuses to run with pbkeys migrations not yet applied to
// the database (a binary newer than the data directory, before its first
// "serve"): the operator decides when the schema changes.
func checkMigrations(app core.App) error {
	var applied []string
	err := app.DB().Select("file").From(core.DefaultMigrationsTable).Column(&applied)
	if err != nil {
		return fmt.Errorf("cli: read applied migrations: %w", err)
	}
	var pending []string
	for _, m := range core.AppMigrations.Items() {
		if !slices.Contains(applied, m.File) {
			pending = append(pending, m.File)
		}
	}
	if len(pending) > 0 {
		return fmt.Errorf("The database is not up to date (%d migration(s) not applied: %s). "+
			"Run \"%s migrate up\" or start the server once, then try again.",
			len(pending), strings.Join(pending, ", "), binaryName())
	}
	return nil
}

// findOwner returns the owner (a record of an owner collection) named by
// --user: EMAIL_OR_ID, looked up in the owner collections in order, or
// COLLECTION/EMAIL_OR_ID for an owner of that collection.
func findOwner(store *keystore.Store, ref string) (*core.Record, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, errors.New("Name the owner with --user, by email or record id (COLLECTION/EMAIL_OR_ID for an owner of another collection than the first).")
	}
	owner, err := store.FindOwnerRef(ref)
	var notOwners *keystore.NotOwnerCollectionError
	switch {
	case errors.As(err, &notOwners):
		return nil, fmt.Errorf("--user: %q is not a collection whose records can own keys: choose %s.", notOwners.Name, orList(ownerCollections(store)))
	case errors.Is(err, sql.ErrNoRows):
		where := ownerCollectionNames(store)
		emailOrID := ref
		if name, rest, ok := strings.Cut(ref, "/"); ok {
			where, emailOrID = "the "+name+" collection", rest
		}
		what := "id"
		if strings.Contains(emailOrID, "@") {
			what = "email"
		}
		return nil, fmt.Errorf("No record with the %s %q in %s.", what, emailOrID, where)
	}
	return owner, err
}

// ownerCollections lists the owner collections' names, in order.
func ownerCollections(store *keystore.Store) []string {
	var names []string
	for _, c := range store.OwnerCollections() {
		names = append(names, c.Name)
	}
	return names
}

// ownerCollectionNames says where owners are looked for: "the users
// collection" or "the collections users, service_accounts".
func ownerCollectionNames(store *keystore.Store) string {
	names := ownerCollections(store)
	if len(names) == 1 {
		return "the " + names[0] + " collection"
	}
	return "the collections " + strings.Join(names, ", ")
}

// owners finds the owners of keys, each read once.
type owners struct {
	store *keystore.Store
	found map[string]*core.Record // owner collection id + "/" + owner id
}

func newOwners(store *keystore.Store) *owners {
	return &owners{store: store, found: map[string]*core.Record{}}
}

// of returns key's owner.
func (o *owners) of(key *core.Record) (*core.Record, error) {
	ref := key.GetString(keystore.FieldOwnerCollection) + "/" + key.GetString(keystore.FieldOwner)
	if r, ok := o.found[ref]; ok {
		return r, nil
	}
	r, err := o.store.Owner(key)
	if err != nil {
		return nil, fmt.Errorf("cli: find the owner of key %s: %w", key.Id, err)
	}
	o.found[ref] = r
	return r, nil
}

// name says who owns key, for people, as --user takes it: the owner's
// email or id, after its collection when it is not the first owner
// collection ("service_accounts/bot@example.com").
func (o *owners) name(key *core.Record) string {
	r, err := o.of(key)
	if err != nil {
		return key.GetString(keystore.FieldOwner)
	}
	return o.store.OwnerRef(r)
}

// collection is the name of the collection key's owner belongs to.
func (o *owners) collection(key *core.Record) string {
	id := key.GetString(keystore.FieldOwnerCollection)
	if c, err := o.store.Collection(id); err == nil {
		return c.Name
	}
	return id
}

// saveError turns a failed save into a sentence naming the flags at fault:
// PocketBase reports validation errors per field ("label: Cannot be
// blank."), and the operator typed flags, not fields.
func saveError(action string, err error) error {
	var verrs validation.Errors
	if !errors.As(err, &verrs) {
		return fmt.Errorf("%s: %w", action, err)
	}
	fields := make([]string, 0, len(verrs))
	for f := range verrs {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		msg := strings.TrimSuffix(capitalize(verrs[f].Error()), ".")
		parts = append(parts, fmt.Sprintf("%s: %s", flagOf(f), msg))
	}
	return fmt.Errorf("%s: %s.", action, strings.Join(parts, "; "))
}

// flagOf names the create flag that sets an api_keys field.
func flagOf(field string) string {
	switch field {
	case keystore.FieldLabel:
		return "--label"
	case keystore.FieldExpires:
		return "--expires"
	case keystore.FieldPermissions:
		return "--perm"
	case keystore.FieldAllowedIPs:
		return "--allow-ip"
	case keystore.FieldRateLimit:
		return "--rate"
	case keystore.FieldOwner, keystore.FieldOwnerCollection:
		return "--user"
	}
	return field
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// binaryName is how the operator invoked us ("pbkeys", "./pbkeys").
func binaryName() string {
	if len(os.Args) > 0 && os.Args[0] != "" && !strings.HasSuffix(os.Args[0], ".test") {
		return os.Args[0]
	}
	return "pbkeys"
}

// cliOrigin is who acts through the CLI, for the owner's mails and the
// keys' events: the operating system user, on this machine.
func cliOrigin() keystore.Origin {
	return keystore.Origin{Via: "CLI", IP: "local", UserAgent: userAgent(), Actor: events.KindCLI, ActorID: osUser()}
}

// osUser is who runs the CLI, as far as the machine knows.
func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

// userAgent identifies the CLI in the owner's notification: who ran it
// where, as far as the machine knows.
func userAgent() string {
	who := osUser()
	host, _ := os.Hostname()
	switch {
	case who != "" && host != "":
		return "pbkeys CLI (" + who + "@" + host + ")"
	case host != "":
		return "pbkeys CLI (" + host + ")"
	}
	return "pbkeys CLI"
}
