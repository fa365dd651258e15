package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Page sessions live in the database (table _pbkeys_page_sessions,
// migration 1764800000), one row per signed-in browser; the cookie holds
// only a random secret that finds the row. So:
//   - signing out deletes the row, and the old cookie is refused at once
//     by every process that serves the same pb_data (a signed token in the
//     cookie would stay valid until it expired);
//   - the cookie is not a PocketBase token: leaked, it works on these pages
//     only, never as a Bearer token on the REST API;
//   - signing out ends this browser's session only: the account's other
//     sessions and its PocketBase tokens are untouched (ending those would
//     need a new tokenKey, which is what a password change does).

// sessionsTable is the table the migration creates.
const sessionsTable = "_pbkeys_page_sessions"

// A cookie's secret is sessionSecretBytes random bytes (256 bits), in
// unpadded base64url: sessionSecretLen characters.
const (
	sessionSecretBytes = 32
	sessionSecretLen   = (sessionSecretBytes*8 + 5) / 6
)

// errSessionEnded is a session that does not exist (any more), has
// expired, or whose account is gone or has a new tokenKey or token secret.
var errSessionEnded = errors.New("pages: the session has ended")

// pageSession is a row of sessionsTable.
type pageSession struct {
	ID           string         `db:"id"` // hex SHA-256 of the cookie's secret
	CollectionID string         `db:"collection_id"`
	RecordID     string         `db:"record_id"`
	AuthStamp    string         `db:"auth_stamp"`
	Created      types.DateTime `db:"created"`
	Expires      types.DateTime `db:"expires"`
}

// sessionID is the row id of a cookie's secret. The secret is stored
// nowhere; a row is found by its SHA-256, never compared with it, so no
// constant-time compare is needed: the timing of the lookup can tell at
// most how much of one hash matched another, which says nothing about any
// secret.
func sessionID(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// authStamp binds a session to the account's credentials as PocketBase
// binds its tokens (signed with tokenKey + the collection's token secret):
// a password change (new tokenKey) or "invalidate all tokens" (new
// collection secret) changes the stamp and so ends every page session of
// the account, as it ends its JWTs.
func authStamp(user *core.Record) string {
	mac := hmac.New(sha256.New, []byte(user.Collection().AuthToken.Secret))
	mac.Write([]byte("pbkeys-page-session\x00" + user.Collection().Id + "\x00" + user.Id + "\x00" + user.TokenKey()))
	return hex.EncodeToString(mac.Sum(nil))
}

// createSession stores a new session of user expiring at expires and
// returns the secret for the cookie.
func createSession(app core.App, user *core.Record, now, expires time.Time) (string, error) {
	b := make([]byte, sessionSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	_, err := app.DB().Insert(sessionsTable, dbx.Params{
		"id":            sessionID(secret),
		"collection_id": user.Collection().Id,
		"record_id":     user.Id,
		"auth_stamp":    authStamp(user),
		"created":       dateText(now),
		"expires":       dateText(expires),
	}).Execute()
	if err != nil {
		return "", err
	}
	return secret, nil
}

// sessionAccount returns the account signed in with secret, read afresh,
// or errSessionEnded; other errors are the database's.
func sessionAccount(app core.App, secret string, now time.Time) (*core.Record, error) {
	if len(secret) != sessionSecretLen {
		return nil, errSessionEnded // not one of ours (e.g. a token from before sessions were stored)
	}
	var s pageSession
	err := app.DB().Select("*").From(sessionsTable).
		Where(dbx.HashExp{"id": sessionID(secret)}).Limit(1).One(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errSessionEnded
	}
	if err != nil {
		return nil, err
	}
	if !now.Before(s.Expires.Time()) {
		return nil, errSessionEnded
	}
	// not the cached collection: another process may have changed its
	// token secret ("invalidate all tokens") or its auth rule
	c, err := app.FindCollectionByNameOrId(s.CollectionID)
	if errors.Is(err, sql.ErrNoRows) || err == nil && (c.Id != s.CollectionID || !c.IsAuth()) {
		return nil, errSessionEnded
	}
	if err != nil {
		return nil, err
	}
	user, err := app.FindRecordById(c, s.RecordID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errSessionEnded
	}
	if err != nil {
		return nil, err
	}
	// neither side comes from the request, so this compare needs no
	// constant time; hmac.Equal has it anyway
	if !hmac.Equal([]byte(s.AuthStamp), []byte(authStamp(user))) {
		return nil, errSessionEnded
	}
	return user, nil
}

// deleteSession ends the session of secret, if there is one.
func deleteSession(app core.App, secret string) error {
	_, err := app.DB().Delete(sessionsTable, dbx.HashExp{"id": sessionID(secret)}).Execute()
	return err
}

// pruneSessions deletes the sessions that expired before now and returns
// how many went. Expired sessions are refused anyway; this keeps the
// table the size of the sessions in use.
func pruneSessions(app core.App, now time.Time) (int64, error) {
	res, err := app.DB().Delete(sessionsTable,
		dbx.NewExp("[[expires]] < {:now}", dbx.Params{"now": dateText(now)})).Execute()
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// dateText is t in PocketBase's date layout, UTC: as text it sorts as the
// times do.
func dateText(t time.Time) string {
	return t.UTC().Format(types.DefaultDateLayout)
}
