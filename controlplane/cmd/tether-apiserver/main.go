// Command tether-apiserver runs an embedded etcd and the official kube-apiserver in one process.
//
// Why one process: a local test cluster needs both, and starting etcd in-process saves a process,
// ~50 MB of RSS and a readiness hand-off. etcd listens on loopback only; its data lives under
// --etcd-data-dir so a restart with the same directory keeps every object.
//
// Usage: tether-apiserver --etcd-data-dir=DIR --etcd-client-port=P --etcd-peer-port=Q -- <kube-apiserver flags>
package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	wrapper := flag.NewFlagSet("tether-apiserver", flag.ExitOnError)
	dataDir := wrapper.String("etcd-data-dir", "", "etcd data directory (required)")
	clientPort := wrapper.Int("etcd-client-port", 0, "etcd client port on 127.0.0.1 (required)")
	peerPort := wrapper.Int("etcd-peer-port", 0, "etcd peer port on 127.0.0.1 (required)")
	etcdLog := wrapper.String("etcd-log-file", "", "file for etcd's own log (default: stderr)")
	if err := wrapper.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *dataDir == "" || *clientPort == 0 || *peerPort == 0 {
		fmt.Fprintln(os.Stderr, "tether-apiserver: --etcd-data-dir, --etcd-client-port and --etcd-peer-port are required")
		os.Exit(2)
	}
	etcd, err := startEtcd(*dataDir, *clientPort, *peerPort, *etcdLog)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tether-apiserver: embedded etcd failed to start: %v\n", err)
		os.Exit(3)
	}
	defer etcd.Close()

	command := app.NewAPIServerCommand()
	command.SetArgs(wrapper.Args())
	os.Exit(cli.Run(command))
}

func loopbackURL(port int) url.URL {
	return url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", port)}
}

func startEtcd(dir string, clientPort, peerPort int, logFile string) (*embed.Etcd, error) {
	cfg := embed.NewConfig()
	cfg.Name = "tether"
	cfg.Dir = dir
	client, peer := loopbackURL(clientPort), loopbackURL(peerPort)
	cfg.ListenClientUrls = []url.URL{client}
	cfg.AdvertiseClientUrls = []url.URL{client}
	cfg.ListenPeerUrls = []url.URL{peer}
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.InitialCluster = fmt.Sprintf("%s=%s", cfg.Name, peer.String())
	cfg.LogLevel = "warn"
	if logFile != "" {
		cfg.LogOutputs = []string{logFile}
	}
	// A local test cluster favours start-up time and a small footprint over durability tuning.
	cfg.SnapshotCount = 10000
	cfg.QuotaBackendBytes = 2 << 30
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "5m"

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case err := <-e.Err():
		e.Close()
		return nil, err
	case <-time.After(60 * time.Second):
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("not ready after 60s (data dir %s)", dir)
	}
}
