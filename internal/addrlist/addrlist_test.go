package addrlist_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pbkeys/pbkeys/internal/addrlist"
)

func TestParse(t *testing.T) {
	many := func(n int) string {
		entries := make([]string, n)
		for i := range entries {
			entries[i] = fmt.Sprintf("10.0.%d.0/24", i)
		}
		raw, _ := json.Marshal(entries)
		return string(raw)
	}
	cases := []struct {
		name, raw string
		want      []string // nil: any address
		err       string   // a part of the error; "" for none
	}{
		{"null is any address", `null`, nil, ""},
		{"empty input is any address", ``, nil, ""},
		{"blank input is any address", " \n ", nil, ""},
		{"an empty JSON string is any address", `""`, nil, ""},
		{"an empty list is any address", `[]`, nil, ""},
		{"IPv4 CIDR", `["10.0.0.0/8"]`, []string{"10.0.0.0/8"}, ""},
		{"IPv6 CIDR", `["2001:db8::/32"]`, []string{"2001:db8::/32"}, ""},
		{"single IPv4 address", `["203.0.113.7"]`, []string{"203.0.113.7"}, ""},
		{"single IPv4 address as /32", `["203.0.113.7/32"]`, []string{"203.0.113.7"}, ""},
		{"single IPv6 address", `["2001:db8::1"]`, []string{"2001:db8::1"}, ""},
		{"single IPv6 address, expanded", `["2001:0db8:0000:0000:0000:0000:0000:0001"]`, []string{"2001:db8::1"}, ""},
		{"every address", `["0.0.0.0/0","::/0"]`, []string{"0.0.0.0/0", "::/0"}, ""},
		{"mixed, in order", `["2001:db8::/32","10.0.0.0/8","192.0.2.1"]`, []string{"2001:db8::/32", "10.0.0.0/8", "192.0.2.1"}, ""},
		{"spaces around entries", `[" 10.0.0.0/8 ","\t192.0.2.1"]`, []string{"10.0.0.0/8", "192.0.2.1"}, ""},
		{"IPv4-mapped address becomes IPv4", `["::ffff:203.0.113.7"]`, []string{"203.0.113.7"}, ""},
		{"IPv4-mapped range becomes IPv4", `["::ffff:10.0.0.0/104"]`, []string{"10.0.0.0/8"}, ""},
		{"IPv4-mapped whole range", `["::ffff:0.0.0.0/96"]`, []string{"0.0.0.0/0"}, ""},
		{"50 entries", many(50), nil, ""}, // checked by length below
		{"IPv4 host bits", `["10.0.0.1/8"]`, nil, `"10.0.0.1/8" has bits set after its /8; did you mean 10.0.0.0/8?`},
		{"IPv6 host bits", `["2001:db8::1/32"]`, nil, `did you mean 2001:db8::/32?`},
		{"host bits among good entries", `["192.0.2.0/24","198.51.100.7/24"]`, nil, `did you mean 198.51.100.0/24?`},
		{"a zone", `["fe80::1%eth0"]`, nil, `"fe80::1%eth0" has a zone (the part from %): write the address or range without it`},
		{"a zone in a range", `["fe80::%eth0/64"]`, nil, `"fe80::%eth0/64" has a zone`},
		{"prefix too long", `["10.0.0.0/33"]`, nil, `"10.0.0.0/33" is not a CIDR range`},
		{"not an address", `["localhost"]`, nil, `"localhost" is neither an address nor a CIDR range`},
		{"an empty entry", `[""]`, nil, `"" is neither an address nor a CIDR range`},
		{"51 entries", many(51), nil, "at most 50"},
		{"a number", `[42]`, nil, "42 is not a string"},
		{"a boolean", `["10.0.0.0/8",true]`, nil, "true is not a string"},
		{"null in the list", `[null]`, nil, "null is not a string"},
		{"a nested list", `[["10.0.0.0/8"]]`, nil, `["10.0.0.0/8"] is not a string`},
		{"an object in the list", `[{"cidr":"10.0.0.0/8"}]`, nil, "is not a string"},
		{"one string, not a list", `"10.0.0.0/8"`, nil, "must be a list"},
		{"an object", `{"10.0.0.0/8":true}`, nil, "must be a list"},
		{"a number alone", `8`, nil, "must be a list"},
		{"not JSON", `10.0.0.0/8`, nil, "must be a list"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			list, err := addrlist.Parse([]byte(c.raw))
			if c.err != "" {
				if err == nil || !errors.Is(err, addrlist.ErrFormat) || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("Parse(%s) = %v, %v; want an ErrFormat saying %q", c.raw, list, err, c.err)
				}
				if list != nil {
					t.Fatalf("Parse(%s) returned a list with its error: %v", c.raw, list)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%s): %v", c.raw, err)
			}
			if c.name == "50 entries" {
				if len(list) != 50 {
					t.Fatalf("%d entries, want 50", len(list))
				}
				return
			}
			if (list == nil) != (c.want == nil) || !slices.Equal(list.Strings(), c.want) {
				t.Fatalf("Parse(%s) = %#v (%v), want %v", c.raw, list, list.Strings(), c.want)
			}
		})
	}
}

// Strings is what is stored: parsed again, it is the same list.
func TestStringsRoundTrip(t *testing.T) {
	list, err := addrlist.Parse([]byte(`["10.0.0.0/8","2001:db8::1","::ffff:192.0.2.0/120","203.0.113.7/32"]`))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(list.Strings())
	again, err := addrlist.Parse(raw)
	if err != nil || !slices.Equal(again, list) {
		t.Fatalf("Parse(%s) = %v, %v; want %v", raw, again, err, list)
	}
	if got := addrlist.List(nil).Strings(); got != nil {
		t.Fatalf("nil list's Strings = %#v, want nil (stored as null)", got)
	}
}

func TestAllows(t *testing.T) {
	parse := func(entries ...string) addrlist.List {
		raw, _ := json.Marshal(entries)
		list, err := addrlist.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
	cases := []struct {
		name string
		list addrlist.List
		ip   string // as e.RealIP() gives it
		want bool
	}{
		{"nil: any address", nil, "198.51.100.7", true},
		{"nil: even an unreadable one", nil, "", true},
		{"empty: no address (an unreadable stored list)", addrlist.List{}, "198.51.100.7", false},
		{"IPv4 inside", parse("192.0.2.0/24"), "192.0.2.200", true},
		{"IPv4 outside", parse("192.0.2.0/24"), "192.0.3.1", false},
		{"single IPv4", parse("192.0.2.1"), "192.0.2.1", true},
		{"single IPv4, neighbour", parse("192.0.2.1"), "192.0.2.2", false},
		{"IPv6 inside", parse("2001:db8::/32"), "2001:db8:ffff::1", true},
		{"IPv6 inside, as PocketBase writes it (expanded)", parse("2001:db8::/32"), "2001:0db8:0000:0000:0000:0000:0000:0001", true},
		{"IPv6 outside", parse("2001:db8::/32"), "2001:db9::1", false},
		{"single IPv6", parse("2001:db8::5"), "2001:db8::5", true},
		{"IPv4-mapped client, IPv4 range", parse("10.0.0.0/8"), "::ffff:10.1.2.3", true},
		{"IPv4-mapped client, expanded", parse("10.0.0.0/8"), "0000:0000:0000:0000:0000:ffff:0a01:0203", true},
		{"IPv4-mapped client, outside", parse("11.0.0.0/8"), "::ffff:10.1.2.3", false},
		{"IPv4 client, IPv4-mapped range", parse("::ffff:10.0.0.0/104"), "10.1.2.3", true},
		{"an IPv6 range holds no IPv4 client", parse("::/0"), "192.0.2.1", false},
		{"an IPv4 range holds no IPv6 client", parse("0.0.0.0/0"), "2001:db8::1", false},
		{"a client's zone is ignored", parse("fe80::/10"), "fe80::1%eth0", true},
		{"one of several", parse("2001:db8::/32", "10.0.0.0/8"), "10.9.9.9", true},
		{"an unreadable address", parse("0.0.0.0/0", "::/0"), "not an address", false},
		{"no address", parse("0.0.0.0/0", "::/0"), "", false},
	}
	for _, c := range cases {
		if got := c.list.Allows(c.ip); got != c.want {
			t.Errorf("%s: %v.Allows(%q) = %v, want %v", c.name, c.list.Strings(), c.ip, got, c.want)
		}
	}
}

func TestParseEntry(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.0/8":          "10.0.0.0/8",
		"192.0.2.1":           "192.0.2.1/32",
		"2001:db8::1":         "2001:db8::1/128",
		"::ffff:192.0.2.1":    "192.0.2.1/32",
		"::ffff:10.0.0.0/104": "10.0.0.0/8",
	} {
		p, err := addrlist.ParseEntry(in)
		if err != nil || p.String() != want {
			t.Errorf("ParseEntry(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	for _, in := range []string{"", "10.0.0.1/8", "fe80::1%eth0", "10.0.0.0/", "/8", "10.0.0.0/8/8", "10.0.0.256"} {
		if _, err := addrlist.ParseEntry(in); !errors.Is(err, addrlist.ErrFormat) {
			t.Errorf("ParseEntry(%q): err = %v, want ErrFormat", in, err)
		}
	}
}
