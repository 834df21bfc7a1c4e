// Connects to a keep with Go's crypto/tls and verifies its certificate chain with crypto/x509
// against the steward CA: Go parses every certificate during the handshake (even with
// InsecureSkipVerify), so a certificate Go cannot parse fails here before verification.
//
//   go run x509check.go <host:port> <steward-ca.pem>
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: x509check <host:port> <ca.pem>")
		os.Exit(2)
	}
	caPEM, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "read CA:", err)
		os.Exit(1)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		fmt.Fprintln(os.Stderr, "no certificate in", os.Args[2])
		os.Exit(1)
	}
	conn, err := tls.Dial("tcp", os.Args[1], &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "go crypto/tls:", err)
		os.Exit(1)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		fmt.Fprintln(os.Stderr, "no peer certificate")
		os.Exit(1)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	chains, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "go crypto/x509 verify:", err)
		os.Exit(1)
	}
	uris := make([]string, 0, len(certs[0].URIs))
	for _, u := range certs[0].URIs {
		uris = append(uris, u.String())
	}
	fmt.Printf("go %s crypto/x509: chain of %d verified; SAN URIs: %s\n",
		strings.TrimPrefix(runtimeVersion(), "go"), len(chains[0]), strings.Join(uris, " "))
}
