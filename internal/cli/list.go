package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"github.com/pbkeys/pbkeys/internal/humanize"
	"github.com/pbkeys/pbkeys/internal/keystore"
	"github.com/pbkeys/pbkeys/internal/permissions"
)

// timeLayout is how the table shows times (always UTC).
const timeLayout = "2006-01-02 15:04"

// listedKey is one key in "list --json". The field names are the api_keys
// record's own (user, label, read_only, collections, rate_limit, disabled,
// created, last_used, last_used_ip, last_used_user_agent, expires) plus
// derived ones (owner_email, owner_collection — the collection's name —,
// scope, state, state_text); they are part of the CLI's interface and stay
// stable. It has no field for the secret or its hash: neither can be listed.
type listedKey struct {
	ID                string          `json:"id"`
	User              string          `json:"user"` // the owner's record id
	OwnerEmail        string          `json:"owner_email"`
	OwnerCollection   string          `json:"owner_collection"` // its name: users, service_accounts...
	Label             string          `json:"label"`
	Scope             string          `json:"scope"`
	Permissions       permissions.Set `json:"permissions"` // null: full access
	AllowedIPs        []string        `json:"allowed_ips"` // null: any address
	RateLimit         int             `json:"rate_limit"`  // requests per minute; 0: no limit
	Disabled          bool            `json:"disabled"`
	State             string          `json:"state"`                // active, expiring, expired or disabled
	StateText         string          `json:"state_text"`           // "Active", "Expires in 3 days", ...
	Created           string          `json:"created"`              // RFC 3339, UTC
	LastUsed          *string         `json:"last_used"`            // RFC 3339, UTC; null: never used
	LastUsedIP        *string         `json:"last_used_ip"`         // client address of that use; null: unknown
	LastUsedUserAgent *string         `json:"last_used_user_agent"` // its user agent; null: unknown
	Expires           *string         `json:"expires"`              // RFC 3339, UTC; null: never expires
}

func newListCommand(app core.App, store *keystore.Store) *cobra.Command {
	var (
		userArg string
		asJSON  bool
	)
	command := &cobra.Command{
		SilenceUsage: true,
		Use:          "list [--user EMAIL_OR_ID|COLLECTION/EMAIL_OR_ID] [--json]",
		Short:        "List keys (never their secrets)",
		Long: `List API keys, newest first: every owner's, or one owner's with --user.

The table shows id, owner, the owner's collection, label, scope, rate limit,
when the key was created, last used and expires (UTC), and its state (Active,
"Expires in 3 days", Expired, Disabled). --json prints the same as a JSON
array, for scripts: fields id, user (the owner's id), owner_email,
owner_collection, label, scope, permissions, allowed_ips, rate_limit, disabled,
state, state_text, created, last_used, last_used_ip, last_used_user_agent,
expires (times are RFC 3339 in UTC; last_used and expires are null for never,
last_used_ip and last_used_user_agent null when unknown; permissions null for
full access, allowed_ips null for any address).
Keys are never shown: only their hashes are stored, and those are not listed.`,
		Example: `  pbkeys apikeys list
  pbkeys apikeys list --user alice@example.com
  pbkeys apikeys list --user service_accounts/bot@example.com
  pbkeys apikeys list --json | jq -r '.[] | select(.state == "expired") | .id'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var (
				keys  []*core.Record
				owner *core.Record
				err   error
			)
			if cmd.Flags().Changed("user") {
				if owner, err = findOwner(store, userArg); err != nil {
					return err
				}
				keys, err = store.List(owner)
			} else {
				keys, err = store.ListAll()
			}
			if err != nil {
				return fmt.Errorf("cli: list keys: %w", err)
			}
			owners := newOwners(store)

			listed := make([]listedKey, 0, len(keys))
			now := time.Now()
			for _, k := range keys {
				listed = append(listed, toListed(k, owners, now))
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(listed)
			}
			if len(listed) == 0 {
				if owner != nil {
					_, err = fmt.Fprintf(out, "%s has no API keys.\n", store.OwnerRef(owner))
				} else {
					_, err = fmt.Fprintln(out, "No API keys.")
				}
				return err
			}
			return writeTable(out, listed)
		},
	}
	command.Flags().StringVar(&userArg, "user", "", "only this owner's keys: EMAIL_OR_ID or COLLECTION/EMAIL_OR_ID")
	command.Flags().BoolVar(&asJSON, "json", false, "print a JSON array instead of a table")
	return command
}

func toListed(k *core.Record, owners *owners, now time.Time) listedKey {
	p := keystore.OptionsOf(k)
	state := humanize.KeyState(p, now)
	return listedKey{
		ID:                k.Id,
		User:              k.GetString(keystore.FieldOwner),
		OwnerEmail:        ownerEmail(owners, k),
		OwnerCollection:   owners.collection(k),
		Label:             k.GetString(keystore.FieldLabel),
		Scope:             humanize.Scope(p),
		Permissions:       p.Permissions,
		AllowedIPs:        p.AllowedIPs.Strings(),
		RateLimit:         p.RatePerMinute,
		Disabled:          p.Disabled,
		State:             string(state.Kind),
		StateText:         state.Text,
		Created:           k.GetDateTime(keystore.FieldCreated).Time().UTC().Format(time.RFC3339),
		LastUsed:          rfc3339OrNil(k.GetDateTime(keystore.FieldLastUsed).Time()),
		LastUsedIP:        stringOrNil(k.GetString(keystore.FieldLastUsedIP)),
		LastUsedUserAgent: stringOrNil(k.GetString(keystore.FieldLastUsedUserAgent)),
		Expires:           rfc3339OrNil(p.ExpiresAt),
	}
}

func stringOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ownerEmail is the email of k's owner, "" when it has none.
func ownerEmail(owners *owners, k *core.Record) string {
	if r, err := owners.of(k); err == nil {
		return r.Email()
	}
	return ""
}

func rfc3339OrNil(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

// writeTable prints keys as aligned columns for people.
func writeTable(out io.Writer, keys []listedKey) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tOWNER\tCOLLECTION\tLABEL\tSCOPE\tRATE\tCREATED\tLAST USED\tEXPIRES\tSTATE")
	for _, k := range keys {
		owner := k.OwnerEmail
		if owner == "" {
			owner = k.User
		}
		rate := "No limit"
		if k.RateLimit > 0 {
			rate = fmt.Sprintf("%d/min", k.RateLimit)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			k.ID, owner, k.OwnerCollection, k.Label, k.Scope, rate,
			tableTime(&k.Created), tableTime(k.LastUsed), tableTime(k.Expires), k.StateText)
	}
	return tw.Flush()
}

// tableTime shortens an RFC 3339 time to timeLayout; nil is "never".
func tableTime(rfc *string) string {
	if rfc == nil {
		return "never"
	}
	t, err := time.Parse(time.RFC3339, *rfc)
	if err != nil {
		return *rfc
	}
	return t.Format(timeLayout)
}
