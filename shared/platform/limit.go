package platform

import (
	"net"
	"net/http"
	"sync"
)

// connLimit is a net.Listener that keeps at most max connections open, so
// that what the server holds per connection (its goroutine, buffers, a
// header block of up to MaxHeaderBytes) is bounded in total. Like
// x/net/netutil.LimitListener, Accept waits for a connection to close
// rather than refusing: a connection over the cap waits in the kernel's
// accept queue and is served when a slot frees, and nothing is reset.
//
// While Accept waits, keep-alive connections idle between requests are
// closed (the client opens a new one for its next request, as after the
// server's idle timeout), and so is every connection that falls idle: a
// burst of new clients is never held behind clients that are not using
// their connections. nginx reclaims keep-alive connections the same way
// when it runs out of worker_connections.
type connLimit struct {
	net.Listener
	slots chan struct{} // one token per open connection
	done  chan struct{} // closed by Close: Accept stops waiting
	once  sync.Once

	mu      sync.Mutex
	waiting int                   // Accept calls waiting for a slot
	idle    map[net.Conn]struct{} // connections between two requests
}

func newConnLimit(ln net.Listener, max int) *connLimit {
	return &connLimit{
		Listener: ln,
		slots:    make(chan struct{}, max),
		done:     make(chan struct{}),
		idle:     map[net.Conn]struct{}{},
	}
}

// Accept waits for a free slot, then accepts a connection.
func (l *connLimit) Accept() (net.Conn, error) {
	if !l.acquire() {
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.slots }}, nil
}

func (l *connLimit) acquire() bool {
	select {
	case l.slots <- struct{}{}:
		return true
	case <-l.done:
		return false
	default:
	}
	l.mu.Lock()
	l.waiting++
	idle := make([]net.Conn, 0, len(l.idle))
	for c := range l.idle {
		idle = append(idle, c)
	}
	clear(l.idle)
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.waiting--
		l.mu.Unlock()
	}()
	for _, c := range idle {
		c.Close()
	}
	select {
	case l.slots <- struct{}{}:
		return true
	case <-l.done:
		return false
	}
}

// Close closes the listener and ends any wait in Accept.
func (l *connLimit) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// connState is the server's ConnState hook: it tracks idle connections,
// and closes one that falls idle while Accept waits for a slot.
func (l *connLimit) connState(c net.Conn, s http.ConnState) {
	l.mu.Lock()
	reclaim := s == http.StateIdle && l.waiting > 0
	if s == http.StateIdle && !reclaim {
		l.idle[c] = struct{}{}
	} else {
		delete(l.idle, c)
	}
	l.mu.Unlock()
	if reclaim {
		c.Close()
	}
}

// limitedConn gives its slot back once, on the first Close.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
