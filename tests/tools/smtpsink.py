#!/usr/bin/python3
"""A real SMTP server for the mail tests (Debian's python3-aiosmtpd).

Listens on 127.0.0.1:PORT and saves every message it accepts to DIR as
N.eml (the bytes as received, with the envelope in N.env), until SIGTERM.
Options:
  --tls CERT KEY      offer STARTTLS with this certificate
  --auth USER PASS    require AUTH (PLAIN or LOGIN) with these credentials;
                      a wrong password is answered "535" and logged to DIR/auth.log
Prints "ready" on stdout once it listens.
"""
import argparse
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Saver:
    def __init__(self, directory):
        self.dir = directory
        self.n = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.n += 1
            n = self.n
        base = os.path.join(self.dir, "%d" % n)
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(base + ".env", "w") as f:
            f.write("from %s\n" % envelope.mail_from)
            for r in envelope.rcpt_tos:
                f.write("to %s\n" % r)
            f.write("tls %s\n" % ("yes" if session.ssl else "no"))
            f.write("auth %s\n" % (session.authenticated and "yes" or "no"))
        os.rename(base + ".tmp", base + ".eml")
        return "250 OK saved as %d" % n


class Authenticator:
    def __init__(self, user, password, log):
        self.user = user.encode()
        self.password = password.encode()
        self.log = log

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == self.user
              and auth_data.password == self.password)
        with open(self.log, "a") as f:
            f.write("%s %s\n" % (mechanism, "ok" if ok else "denied"))
        return AuthResult(success=ok, handled=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("dir")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--auth", nargs=2, metavar=("USER", "PASS"))
    a = ap.parse_args()
    kw = {}
    if a.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        kw["tls_context"] = ctx
    if a.auth:
        kw["authenticator"] = Authenticator(a.auth[0], a.auth[1],
                                            os.path.join(a.dir, "auth.log"))
        kw["auth_required"] = True
        # the tests log in over plain text on loopback
        kw["auth_require_tls"] = False
    ctl = Controller(Saver(a.dir), hostname="127.0.0.1", port=a.port, **kw)
    ctl.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    ctl.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
