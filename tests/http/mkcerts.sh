#!/bin/sh
# mkcerts.sh -- makes the test PKI of tests/unit/test_http.c in directory $1: a CA (ca.pem),
# a server certificate for 127.0.0.1 and localhost (server.pem, server.key), a client
# certificate "prescale-test-client" (client.pem, client.key) and an unrelated CA (other-ca.pem).
# EC P-256 keys keep it fast. Only the openssl CLI is used; nothing outside $1 is written.
set -eu
d=$1
cd "$d"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
key ca.key
openssl req -x509 -new -key ca.key -subj /CN=prescale-test-ca -days 2 -out ca.pem \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
key other-ca.key
openssl req -x509 -new -key other-ca.key -subj /CN=prescale-other-ca -days 2 -out other-ca.pem \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
key server.key
openssl req -new -key server.key -subj /CN=127.0.0.1 -out server.csr
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
	-extfile server.ext -out server.pem 2>/dev/null
key client.key
openssl req -new -key client.key -subj /CN=prescale-test-client -out client.csr
printf 'extendedKeyUsage=clientAuth\n' >client.ext
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
	-extfile client.ext -out client.pem 2>/dev/null
