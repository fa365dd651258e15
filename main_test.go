package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDropIn runs the built binary as an operator of the stock PocketBase
// binary would: their app's pb_hooks, pb_migrations and pb_public copied
// next to ./pbkeys, then "./pbkeys serve". Everything that worked before
// works, and keys work in it.
func TestDropIn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and serves the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "pbkeys")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	writeFiles(t, dir, map[string]string{
		// a JS migration: a collection of the app's own
		"pb_migrations/1700000000_tasks.js": `migrate((app) => {
  const tasks = new Collection({
    type: "base", name: "tasks",
    listRule: "owner = @request.auth.id", viewRule: "owner = @request.auth.id",
    createRule: "@request.auth.id != '' && owner = @request.auth.id",
    fields: [
      { type: "relation", name: "owner", collectionId: "_pb_users_auth_", maxSelect: 1, required: true },
      { type: "text", name: "title" },
      { type: "text", name: "by_key" },
    ],
  });
  app.save(tasks);
}, (app) => {
  app.delete(app.findCollectionByNameOrId("tasks"));
});
`,
		// pb_hooks: a custom route and a record hook, both seeing the key
		"pb_hooks/main.pb.js": `routerAdd("GET", "/hello", (e) => {
  const key = e.get("pbkeysAPIKey");
  return e.json(200, { auth: e.auth?.id ?? "", email: e.auth?.email() ?? "", key: key ? key.id : "" });
});
routerAdd("GET", "/tasks-report", (e) => {
  const key = e.get("pbkeysAPIKey");
  const perms = key ? JSON.parse(key.getString("permissions") || "null") : null;
  const level = perms ? (perms["tasks"] ?? perms["*"] ?? "none") : "write";
  if (level === "none") {
    throw new ForbiddenError("This API key cannot read tasks.");
  }
  return e.json(200, { level: level });
});
onRecordCreateRequest((e) => {
  const key = e.get("pbkeysAPIKey");
  e.record.set("by_key", key ? key.id : "session");
  return e.next();
}, "tasks");
`,
		// pb_public: a built single-page app, its assets under /static
		"pb_public/index.html":        "<!doctype html><title>My app</title><div id=root></div>",
		"pb_public/static/js/main.js": "console.log('my app');",
	})

	// Like a fresh install: the superuser, then serve on a free port.
	run(t, bin, "superuser", "upsert", "admin@example.com", "a-long-admin-password", "--dev=false")
	base := serve(t, bin, "--dev=false", "--hooksWatch=false")

	// pb_public: "/" is the app's site (no redirect to the pages), and
	// so are its assets, even under /static.
	expect(t, get(t, base+"/", ""), 200, "<title>My app</title>")
	expect(t, get(t, base+"/static/js/main.js", ""), 200, "my app")
	expect(t, get(t, base+"/some/spa/route", ""), 200, "<title>My app</title>") // index fallback
	// the pages are under their prefix
	expect(t, get(t, base+"/api-keys/login", ""), 200, "Sign in")

	// A user, a session and a key, over REST as any client would.
	post(t, base+"/api/collections/users/records", "",
		`{"email":"alice@example.com","password":"alice-password-1","passwordConfirm":"alice-password-1"}`)
	var session struct {
		Token  string
		Record struct{ ID string }
	}
	decode(t, post(t, base+"/api/collections/users/auth-with-password", "",
		`{"identity":"alice@example.com","password":"alice-password-1"}`), &session)
	var created struct{ ID, Key string }
	decode(t, post(t, base+"/api/collections/api_keys/records", session.Token, `{"label":"drop-in"}`), &created)
	if created.Key == "" {
		t.Fatal("no key revealed")
	}

	// The JS migration ran, and a key works on its collection; the JS
	// record hook sees the key.
	res := post(t, base+"/api/collections/tasks/records", "Bearer "+created.Key,
		`{"owner":"`+session.Record.ID+`","title":"from CI"}`)
	expect(t, res, 200, `"by_key":"`+created.ID+`"`)
	expect(t, get(t, base+"/api/collections/tasks/records", "Bearer "+created.Key), 200, `"title":"from CI"`)

	// The JS route sees the key's owner as e.auth, and the key.
	expect(t, get(t, base+"/hello", "Bearer "+created.Key), 200,
		`"auth":"`+session.Record.ID+`"`, `"email":"alice@example.com"`, `"key":"`+created.ID+`"`)
	expect(t, get(t, base+"/hello", session.Token), 200, `"key":""`)

	// Keys with permissions (docs/permissions.md): the app's routes only
	// with "@routes", and the JS route reads the key's permissions.
	keyWith := func(perms string) string {
		var k struct{ Key string }
		decode(t, post(t, base+"/api/collections/api_keys/records", session.Token, `{"label":"p","permissions":`+perms+`}`), &k)
		if k.Key == "" {
			t.Fatalf("no key revealed for %s", perms)
		}
		return "Bearer " + k.Key
	}
	expect(t, get(t, base+"/tasks-report", "Bearer "+created.Key), 200, `"level":"write"`)
	expect(t, get(t, base+"/tasks-report", keyWith(`{"tasks":"read"}`)), 403, `its permissions do not include them`)
	readTasks := keyWith(`{"tasks":"read","@routes":"read"}`)
	expect(t, get(t, base+"/tasks-report", readTasks), 200, `"level":"read"`)
	expect(t, get(t, base+"/api/collections/tasks/records", readTasks), 200, `"title":"from CI"`)
	expect(t, post(t, base+"/api/collections/tasks/records", readTasks, `{"owner":"`+session.Record.ID+`","title":"no"}`), 403, `can only read the \"tasks\" collection`)
	expect(t, get(t, base+"/tasks-report", keyWith(`{"users":"read","@routes":"read"}`)), 403, "This API key cannot read tasks.")

	// The request log names the key (never the secret).
	var admin struct{ Token string }
	decode(t, post(t, base+"/api/collections/_superusers/auth-with-password", "",
		`{"identity":"admin@example.com","password":"a-long-admin-password"}`), &admin)
	secret := created.Key[strings.IndexByte(created.Key, '.')+1:]
	deadline := time.Now().Add(10 * time.Second) // PocketBase writes logs in batches every 3 s
	for {
		logs := readAll(t, get(t, base+"/api/logs?perPage=200&filter="+
			"data.url~'/hello'", admin.Token))
		if strings.Contains(logs, secret) {
			t.Fatal("a request log holds the secret")
		}
		if strings.Contains(logs, `"apiKeyId":"`+created.ID+`"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no request log names the key %s:\n%s", created.ID, logs)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// An owner collection that is not an auth collection (tasks, made by
	// the JS migration) stops the start and the CLI, with its name.
	for _, args := range [][]string{{"serve", "--http=127.0.0.1:0"}, {"apikeys", "list"}} {
		cmd := command(bin, append(args, "--dev=false", "--hooksWatch=false")...)
		cmd.Env = append(os.Environ(), "PBKEYS_OWNER_COLLECTIONS=users,tasks")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "tasks (a base collection) cannot own API keys") {
			t.Fatalf("%v with a base owner collection: %v\n%s", args, err, out)
		}
	}

	// What stays out: PocketBase's self-update would replace pbkeys.
	if out, err := command(bin, "update", "--dev=false").CombinedOutput(); err == nil || !strings.Contains(string(out), "unknown command") {
		t.Fatalf("update: %v %s", err, out)
	}
	// And the stock flags are all there.
	help, _ := command(bin, "serve", "--help").CombinedOutput()
	for _, flag := range []string{"--hooksDir", "--hooksWatch", "--hooksPool", "--migrationsDir", "--automigrate", "--publicDir", "--indexFallback"} {
		if !strings.Contains(string(help), flag) {
			t.Errorf("serve --help lacks %s", flag)
		}
	}
}

// TestRootLeadsToThePagesWithoutASite: with no pb_public, "/" redirects
// to the pages, as before there was a site to serve.
func TestRootLeadsToThePagesWithoutASite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and serves the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "pbkeys")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	base := serve(t, bin, "--dev=false", "--hooksWatch=false")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/api-keys" {
		t.Fatalf("/: %d to %q, want 303 to /api-keys", res.StatusCode, res.Header.Get("Location"))
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// command runs bin in its own directory, as an operator runs ./pbkeys. (The
// test's binary lives under the temp dir, where PocketBase assumes "go
// run" and takes the working directory, not the binary's, as the place of
// pb_data and pb_public; --dev=false keeps its SQL log off.)
func command(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Dir(bin)
	return cmd
}

func run(t *testing.T, bin string, args ...string) {
	t.Helper()
	if out, err := command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", bin, args, err, out)
	}
}

// serve starts "bin serve" on a free loopback port with its data next to
// it, waits until it answers, and stops it when t ends.
func serve(t *testing.T, bin string, args ...string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := command(bin, append([]string{"serve", "--http=" + addr}, args...)...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("server stderr:\n%s", log.String())
		}
	})
	base := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; {
		if res, err := http.Get(base + "/api/health"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not start:\n%s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func request(t *testing.T, method, url, authorization, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func get(t *testing.T, url, authorization string) *http.Response {
	return request(t, http.MethodGet, url, authorization, "")
}

func post(t *testing.T, url, authorization, body string) *http.Response {
	return request(t, http.MethodPost, url, authorization, body)
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func expect(t *testing.T, res *http.Response, status int, contains ...string) {
	t.Helper()
	body := readAll(t, res)
	if res.StatusCode != status {
		t.Fatalf("%s %s: %d, want %d\n%s", res.Request.Method, res.Request.URL.Path, res.StatusCode, status, body)
	}
	for _, c := range contains {
		if !strings.Contains(body, c) {
			t.Fatalf("%s %s: no %q in\n%s", res.Request.Method, res.Request.URL.Path, c, body)
		}
	}
}

func decode(t *testing.T, res *http.Response, v any) {
	t.Helper()
	body := readAll(t, res)
	if res.StatusCode != 200 {
		t.Fatalf("%s %s: %d\n%s", res.Request.Method, res.Request.URL.Path, res.StatusCode, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatal(errors.Join(err, fmt.Errorf("body: %s", body)))
	}
}
