package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/echorelay/echorelay/peers"
)

// reconcileOnSignal makes SIGUSR1 start a reconciliation with every neighbour this relay
// initiates for (the smaller fingerprint of each pair does), until ctx ends. Operators use it
// after a relay was offline: `kill -USR1 $(pidof echorelay)`.
func reconcileOnSignal(ctx context.Context, node *peers.Node, log *slog.Logger) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ch:
				log.Info("reconciling with neighbours now (SIGUSR1)")
				node.Reconcile()
			case <-ctx.Done():
				return
			}
		}
	}()
}
