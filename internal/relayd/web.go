package relayd

// The web client's listener (internal/web serves it): the page, the WebAssembly client and
// the WebSocket that becomes a client link of the node. On by default next to the relay
// (port + 2, all interfaces like the relay itself, so that phones on the LAN reach it);
// --web off disables it; --web-cert/--web-key (or --web-cert self) serve it over https.

import (
	"crypto/tls"
	"errors"
	"log/slog"

	"github.com/echorelay/echorelay/internal/hint"
	"github.com/echorelay/echorelay/internal/web"
	"github.com/echorelay/echorelay/peers"
)

// startWeb starts the web listener; addr is "" when it is off, urls are the addresses to open
// it at (Run logs them in its "relay listening" line, the one that may name addresses).
func startWeb(c Config, node *peers.Node, id *peers.Identity, log *slog.Logger) (addr string, urls []string, stop func(), err error) {
	if c.Web == "off" {
		return "", nil, func() {}, nil
	}
	where, explicit := c.Web, c.Web != ""
	if !explicit {
		if where, err = web.DefaultAddr(c.Listen); err != nil {
			return "", nil, nil, hint.New("give --web HOST:PORT, or --web off", "--web: %s", err)
		}
	}
	var tlsConf *tls.Config
	webFP := ""
	if c.WebCert != "" || c.WebKey != "" {
		if tlsConf, webFP, err = web.TLSConfig(c.WebCert, c.WebKey, c.Data); err != nil {
			return "", nil, nil, hint.New("give both --web-cert FILE and --web-key FILE (PEM), or --web-cert self", "%s", err)
		}
	}
	h, err := web.New(web.Options{Node: node, RelayPort: node.Port(), Fingerprint: id.Fingerprint, WebFingerprint: webFP,
		Logger: log.With("part", "web")})
	if err != nil {
		return "", nil, nil, err
	}
	srv, err := web.Listen(where, h, tlsConf)
	if err != nil {
		if !explicit && inUse(err, "") != err {
			// The default port is taken (another relay on this machine): the relay still serves.
			log.Warn("the web client's default port is in use: web client off (give --web HOST:PORT)")
			return "", nil, func() {}, nil
		}
		return "", nil, nil, inUse(err, "--web (or --web off)")
	}
	if _, err := web.WasmSHA256(); errors.Is(err, web.ErrNoWasm) {
		log.Warn("this binary has no web client built in: the page says so (build with scripts/webwasm first)")
	}
	if webFP != "" {
		log.Info("web client over https: compare this with the public-key SHA-256 the browser shows for the certificate", "web_cert_sha256", webFP)
	}
	return srv.Addr().String(), srv.URLs(), srv.Close, nil
}
