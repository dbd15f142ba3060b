#!/usr/bin/env python3
"""server.py -- the HTTP/HTTPS test server of tests/unit/test_http.c.

Usage: server.py [--cert PEM --key PEM [--client-ca PEM]]
Binds 127.0.0.1 on an ephemeral port, prints "port=<n>" on stdout, serves until its stdin
reaches end of file (the test closed the pipe or died), then exits. With --cert/--key it
serves TLS; with --client-ca it also requires a client certificate signed by that CA.

Paths (query values are percent-decoded):
  /echo                     200, text/plain: the request line, the headers in the order
                            received ("name: value"), a blank line, then the body.
  /respond?status=S&h=N:V&body=B&n=K&chunked=1
                            status S (default 200), each h as a header, body B or K bytes of
                            'x'; chunked=1 sends the body with chunked transfer encoding
                            (no Content-Length).
  /retry-after-date?in=S    503 with Retry-After as an IMF-fixdate S seconds from now.
  /conn                     200, "conn=<id>": the number of the TCP connection (from 1).
  /auth                     200 when "Authorization: Bearer good", 401 otherwise.
  /peer                     200, "subject=<CN of the client certificate>" or "subject=".
  /hang                     reads the request, never answers (closes after 20 s).
"""
import email.utils
import http.server
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

conn_lock = threading.Lock()
conn_count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # a connection idle this long is closed

    def setup(self):
        global conn_count
        super().setup()
        with conn_lock:
            conn_count += 1
            self.conn_id = conn_count

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body=b"", headers=(), chunked=False,
             content_type="text/plain"):
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if chunked:
            for i in range(0, len(body), 4096):
                part = body[i:i + 4096]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(body)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if url.path == "/echo":
            lines = [self.requestline]
            lines += ["%s: %s" % (k, v) for k, v in self.headers.items()]
            self.send(200, ("\n".join(lines) + "\n\n").encode("latin-1") + body)
        elif url.path == "/respond":
            status = int(q.get("status", ["200"])[0])
            headers = [h.split(":", 1) for h in q.get("h", [])]
            headers = [(n.strip(), v.strip()) for n, v in headers]
            if "n" in q:
                out = b"x" * int(q["n"][0])
            else:
                out = q.get("body", [""])[0].encode()
            ctype = "text/plain" if not any(
                n.lower() == "content-type" for n, _ in headers) else None
            self.send(status, out, headers, chunked="chunked" in q, content_type=ctype)
        elif url.path == "/retry-after-date":
            when = time.time() + int(q["in"][0])
            date = email.utils.formatdate(when, usegmt=True)
            self.send(503, b"busy", [("Retry-After", date)])
        elif url.path == "/conn":
            self.send(200, b"conn=%d" % self.conn_id)
        elif url.path == "/auth":
            if self.headers.get("Authorization") == "Bearer good":
                self.send(200, b"welcome")
            else:
                self.send(401, b"Unauthorized", [("WWW-Authenticate", "Bearer")])
        elif url.path == "/peer":
            cert = self.connection.getpeercert() if hasattr(
                self.connection, "getpeercert") else None
            cn = ""
            for rdn in (cert or {}).get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        cn = v
            self.send(200, ("subject=" + cn).encode())
        elif url.path == "/hang":
            time.sleep(20)
            self.close_connection = True
        else:
            self.send(404, b"no such path")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    tls = None

    def finish_request(self, request, client_address):
        if self.tls:
            request.settimeout(10)
            request = self.tls.wrap_socket(request, server_side=True)
            request.settimeout(None)
        self.RequestHandlerClass(request, client_address, self)

    def handle_error(self, request, client_address):
        pass  # a rejected handshake or a client that went away is part of the tests


def main():
    args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    server = Server(("127.0.0.1", 0), Handler)
    if "--cert" in args:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args["--cert"], args["--key"])
        if "--client-ca" in args:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args["--client-ca"])
        server.tls = ctx
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("port=%d" % server.server_address[1], flush=True)
    while sys.stdin.buffer.read(4096):
        pass
    server.server_close()


if __name__ == "__main__":
    main()
