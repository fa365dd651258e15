package apikey

import "testing"

func TestLRUEvictsLeastRecentlyUsed(t *testing.T) {
	l := newLRU[string, int](2)
	l.put("a", 1)
	l.put("b", 2)
	if v, ok := l.get("a"); !ok || *v != 1 { // "a" is now the most recent
		t.Fatalf("get(a) = %v, %v", v, ok)
	}
	l.put("c", 3) // evicts "b"
	if _, ok := l.get("b"); ok {
		t.Fatal("b survived eviction")
	}
	for k, want := range map[string]int{"a": 1, "c": 3} {
		if v, ok := l.get(k); !ok || *v != want {
			t.Fatalf("get(%s) = %v, %v; want %d", k, v, ok, want)
		}
	}
	if l.len() != 2 {
		t.Fatalf("len = %d, want 2", l.len())
	}
}

func TestLRUPutReplacesAndRemoveForgets(t *testing.T) {
	l := newLRU[string, int](3)
	l.put("a", 1)
	p := l.put("a", 2)
	*p = 5 // put returns the stored value's address
	if v, _ := l.get("a"); *v != 5 || l.len() != 1 {
		t.Fatalf("a = %d, len %d", *v, l.len())
	}
	l.remove("a")
	l.remove("missing")
	if _, ok := l.get("a"); ok || l.len() != 0 {
		t.Fatal("remove did not forget a")
	}
}

func TestLRUStaysBoundedUnderChurn(t *testing.T) {
	l := newLRU[int, int](100)
	for i := range 10_000 {
		l.put(i, i)
	}
	if l.len() != 100 {
		t.Fatalf("len = %d, want 100", l.len())
	}
	for i := 9_900; i < 10_000; i++ {
		if v, ok := l.get(i); !ok || *v != i {
			t.Fatalf("recent entry %d lost", i)
		}
	}
	// a full lru reuses evicted nodes
	next := 10_000
	if allocs := testing.AllocsPerRun(1000, func() { l.put(next, next); next++ }); allocs > 0.1 {
		t.Fatalf("put into a full lru allocates %v times", allocs)
	}
}
