// Package addrlist is a key's address allow-list: the IPv4 and IPv6 ranges
// (CIDRs, or single addresses) it may be used from.
package addrlist

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// MaxEntries bounds a list.
const MaxEntries = 50

// List is an allow-list. A nil List allows every address; an empty non-nil
// one allows none (what an unreadable stored list becomes: fail closed).
type List []netip.Prefix

// FormatError says what is wrong with the input, as a sentence without
// its capital and full stop (the caller adds them where it shows it).
type FormatError string

func (e FormatError) Error() string { return string(e) }

// Is makes every FormatError match ErrFormat.
func (e FormatError) Is(target error) bool { return target == ErrFormat }

// ErrFormat matches every error Parse returns (errors.Is).
var ErrFormat = errors.New("addrlist: bad format")

// Parse reads a list as REST takes it and the database stores it: a JSON
// array of CIDRs or addresses ("10.0.0.0/8", "2001:db8::/32",
// "203.0.113.7"); null, empty input, an empty JSON string (what
// PocketBase stores for an empty form field) and [] allow every address
// (nil).
// Ranges are kept in their canonical form (host bits cleared are an
// error: "10.0.0.1/8" is refused, it reads as a mistake).
func Parse(raw []byte) (List, error) {
	text := strings.TrimSpace(string(raw))
	if text == "" || text == "null" || text == `""` {
		return nil, nil
	}
	var entries []any
	if err := json.Unmarshal([]byte(text), &entries); err != nil {
		return nil, FormatError(`allowed_ips must be a list of addresses or CIDR ranges, e.g. ["10.0.0.0/8","2001:db8::/32"], or null for any address`)
	}
	if len(entries) == 0 {
		return nil, nil
	}
	if len(entries) > MaxEntries {
		return nil, FormatError(fmt.Sprintf("allowed_ips can hold at most %d ranges", MaxEntries))
	}
	list := make(List, 0, len(entries))
	for _, e := range entries {
		s, ok := e.(string)
		if !ok {
			b, _ := json.Marshal(e)
			return nil, FormatError(fmt.Sprintf("%s is not a string: write each address or range in quotes, e.g. \"10.0.0.0/8\"", b))
		}
		p, err := ParseEntry(s)
		if err != nil {
			return nil, err
		}
		list = append(list, p)
	}
	return list, nil
}

// ParseEntry reads one entry: a CIDR range or a single address. An IPv6
// zone ("fe80::1%eth0") is refused: it names an interface of the machine
// that wrote it, not an address a client has.
func ParseEntry(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "%") {
		return netip.Prefix{}, FormatError(fmt.Sprintf("%q has a zone (the part from %%): write the address or range without it", s))
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" {
			return netip.Prefix{}, FormatError(fmt.Sprintf("%q is not a CIDR range like 10.0.0.0/8 or 2001:db8::/32", s))
		}
		if p.Masked() != p {
			return netip.Prefix{}, FormatError(fmt.Sprintf("%q has bits set after its /%d; did you mean %s?", s, p.Bits(), p.Masked()))
		}
		return unmap(p), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, FormatError(fmt.Sprintf("%q is neither an address nor a CIDR range", s))
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// unmap turns an IPv4-mapped IPv6 range (::ffff:10.0.0.0/104) into its IPv4
// form, so that it matches the IPv4 addresses clients present.
func unmap(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// Allows reports whether l allows the client address ip (as PocketBase's
// e.RealIP() gives it). An address that does not parse is allowed only by
// a nil list.
func (l List) Allows(ip string) bool {
	if l == nil {
		return true
	}
	a, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range l {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Strings returns the ranges as they are shown and stored.
func (l List) Strings() []string {
	if l == nil {
		return nil
	}
	out := make([]string, len(l))
	for i, p := range l {
		if p.IsSingleIP() {
			out[i] = p.Addr().String()
		} else {
			out[i] = p.String()
		}
	}
	return out
}
