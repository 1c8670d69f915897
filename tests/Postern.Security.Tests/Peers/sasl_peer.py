"""Independent SASL client (stdlib hashlib/hmac only) used as a second implementation.

Protocol on stdin/stdout, one base64 line per message:
  scram <sha1|sha256> <user> <password>: prints client-first, reads server-first,
      prints client-final, reads server-final, prints OK or BAD-SERVER-SIGNATURE.
  cram <user> <password>: reads challenge, prints response.
"""
import base64, hashlib, hmac, os, sys

def out(b):
    sys.stdout.write(base64.b64encode(b).decode() + "\n"); sys.stdout.flush()

def inp():
    return base64.b64decode(sys.stdin.readline().strip())

def scram(alg, user, password):
    h = getattr(hashlib, alg)
    nonce = base64.b64encode(os.urandom(18)).decode()
    bare = "n=" + user.replace("=", "=3D").replace(",", "=2C") + ",r=" + nonce
    out(("n,," + bare).encode())
    server_first = inp().decode()
    attrs = dict(a.split("=", 1) for a in server_first.split(","))
    assert attrs["r"].startswith(nonce)
    salted = hashlib.pbkdf2_hmac(alg, password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", h).digest()
    stored = h(client_key).digest()
    without_proof = "c=" + base64.b64encode(b"n,,").decode() + ",r=" + attrs["r"]
    auth = (bare + "," + server_first + "," + without_proof).encode()
    sig = hmac.new(stored, auth, h).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    out((without_proof + ",p=" + base64.b64encode(proof).decode()).encode())
    server_key = hmac.new(salted, b"Server Key", h).digest()
    expected = "v=" + base64.b64encode(hmac.new(server_key, auth, h).digest()).decode()
    print("OK" if inp().decode() == expected else "BAD-SERVER-SIGNATURE", flush=True)

def cram(user, password):
    challenge = inp()
    out((user + " " + hmac.new(password.encode(), challenge, "md5").hexdigest()).encode())

if sys.argv[1] == "scram":
    scram(sys.argv[2], sys.argv[3], sys.argv[4])
else:
    cram(sys.argv[2], sys.argv[3])
