// Package testkit holds the helpers several packages' tests share: a log
// buffer a logger and a test can read concurrently ([Buffer]), the check
// that error descriptions never vary with input ([Phrases]), and the
// building of a function's handler from an environment the way the
// platform builds it ([Handler]). It is for tests only: no function binary
// imports it (internal/archtest checks that).
package testkit
