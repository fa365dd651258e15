package apikey

// lru is a fixed-capacity map that forgets its least recently used entry
// when full. The verified-secret cache and the failure throttle both use it
// so that neither grows with what an attacker sends. It is not safe for
// concurrent use: its owners hold their own lock.
type lru[K comparable, V any] struct {
	capacity int
	items    map[K]*lruNode[K, V]
	head     lruNode[K, V] // sentinel: head.next is the most recent, head.prev the least
}

type lruNode[K comparable, V any] struct {
	key        K
	value      V
	prev, next *lruNode[K, V]
}

// newLRU returns an empty lru holding at most capacity entries (at least 1).
func newLRU[K comparable, V any](capacity int) *lru[K, V] {
	if capacity < 1 {
		capacity = 1
	}
	l := &lru[K, V]{capacity: capacity, items: make(map[K]*lruNode[K, V])}
	l.head.next, l.head.prev = &l.head, &l.head
	return l
}

// get returns the value stored under k and marks it most recently used.
// The pointer stays valid until k is removed or evicted.
func (l *lru[K, V]) get(k K) (*V, bool) {
	n, ok := l.items[k]
	if !ok {
		return nil, false
	}
	l.moveToFront(n)
	return &n.value, true
}

// put stores v under k as the most recently used entry, evicting the least
// recently used one if the lru is full, and returns a pointer to the stored value.
func (l *lru[K, V]) put(k K, v V) *V {
	if n, ok := l.items[k]; ok {
		n.value = v
		l.moveToFront(n)
		return &n.value
	}
	var n *lruNode[K, V]
	if len(l.items) >= l.capacity {
		// reuse the evicted node: a full cache allocates nothing more
		n = l.head.prev
		l.unlink(n)
		delete(l.items, n.key)
		var zero V
		n.value = zero
	} else {
		n = new(lruNode[K, V])
	}
	n.key, n.value = k, v
	l.items[k] = n
	l.pushFront(n)
	return &n.value
}

// remove forgets k.
func (l *lru[K, V]) remove(k K) {
	if n, ok := l.items[k]; ok {
		l.unlink(n)
		delete(l.items, k)
	}
}

// len returns the number of entries.
func (l *lru[K, V]) len() int { return len(l.items) }

func (l *lru[K, V]) moveToFront(n *lruNode[K, V]) {
	if l.head.next == n {
		return
	}
	l.unlink(n)
	l.pushFront(n)
}

func (l *lru[K, V]) unlink(n *lruNode[K, V]) {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
}

func (l *lru[K, V]) pushFront(n *lruNode[K, V]) {
	n.prev, n.next = &l.head, l.head.next
	l.head.next.prev = n
	l.head.next = n
}
