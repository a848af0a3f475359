//go:build linux

package pg

import "syscall"

// canSwitchUser reports whether sysProcAttr can run a program as another user.
const canSwitchUser = true

// sysProcAttr runs a child as owner (when not nil). A server child also
// gets SIGQUIT, PostgreSQL's immediate shutdown, when its parent dies.
func sysProcAttr(owner *account, server bool) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{}
	if owner != nil {
		// Groups is empty: the child drops root's supplementary groups.
		attr.Credential = &syscall.Credential{Uid: owner.uid, Gid: owner.gid}
	}
	if server {
		attr.Pdeathsig = syscall.SIGQUIT
	}
	return attr
}
