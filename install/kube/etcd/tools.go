//go:build tools

// Package tools pins the main package build.sh builds (etcd's binary is the module root of
// go.etcd.io/etcd/server/v3), so that go mod tidy keeps its dependencies in go.mod and go.sum. The
// build tag keeps the file out of every build (a main package cannot be imported).
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
