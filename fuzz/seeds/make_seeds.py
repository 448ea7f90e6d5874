#!/usr/bin/env python3
"""Writes fuzz/seeds/scanner/: SIP messages in the spirit of RFC 4475 (SIP
torture tests; each file named after the RFC's test it imitates, written for
siplat, not copied) and the messages of agent-common/tests/scan_corpus.rs.
Rerun after editing; the files are committed so the fuzzer needs no Python.
"""
import os
import shutil

from corpus import SEEDS, seed
import rfc4475  # noqa: F401  (registers its seeds on import)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scanner")

# --- siplat's own corpus: agent-common/tests/scan_corpus.rs, scan_basic.rs -------
tortuous = """INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0
TO :
 sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n
from   : "J Rosenberg \\\\\\"\"       <sip:jdrosen@example.com>
  ;
  tag = 98asjd8
MaX-fOrWaRdS: 0068
Call-ID
 : 0ha0isndaksdj@192.0.2.1
Content-Length   : 150
cseq: 0009
  INVITE
Via  : SIP  /   2.0
 /UDP
    192.0.2.2;branch=390skdjuw
s :
NewFangledHeader:   newfangled value
 continued newfangled value
v:  SIP  / 2.0  / TCP     spindle.example.com   ;
  branch  =   z9hG4bK9ikj8  ,
 SIP  /    2.0   / UDP  192.168.255.111   ; branch=
 z9hG4bK30239
m:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =
      newvalue ;
  secondparam ; q = 0.33

v=0
"""
seed("corpus-tortuous", tortuous)
for i, headers in enumerate([
    "i:abc@x\nCSeq: 1 INVITE\n",
    "I  :   abc@x\ncseq:1 INVITE\n",
    "CALL-ID: abc@x\nCSEQ: 1 INVITE\n",
    "cAlL-iD:\tabc@x\ncSeQ:\t1\tINVITE\n",
    "CSeq: 1 INVITE\nCall-ID: abc@x\n",
    "Call-ID: abc@x   \nCSeq: 1 INVITE   \n",
    "Call-ID:\n abc@x\nCSeq:\n\t1\n INVITE\n",
]):
    seed("corpus-compact-%d" % i,
         "INVITE sip:bob@example.com SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n" + headers + "\n")
seed("corpus-bare-lf", b"SIP/2.0 200 OK\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nCall-ID: lf@x\nCSeq: 7 BYE\n\n")
seed("corpus-decoys", """INVITE sip:bob@example.com SIP/2.0
Subject: Call-ID: fake@decoy
Call-Info: <http://example.com/decoy>
Identity: "decoy"
CSeq-Extension: 99 BYE
X-Call-ID: fake2@decoy
Call ID: fake3@decoy
i: real@x
CSeq: 4 INVITE

""")
seed("corpus-repeated", "INVITE sip:b@x SIP/2.0\nCall-ID: first@x\nCall-ID: second@x\nCSeq: 2 INVITE\n\n")
vias = "".join(
    "Via: SIP/2.0/UDP 198.18.0.%d:5060;branch=z9hG4bK-%06d-abcdefghij;received=198.18.1.%d\n" % (i, i, i)
    for i in range(40)
)
seed("corpus-vias-first", "INVITE sip:b@x SIP/2.0\n" + vias + "Call-ID: late@x\nCSeq: 3 INVITE\n\n")
seed("corpus-vias-after", "SIP/2.0 180 Ringing\ni: early@x\nCSeq: 3 INVITE\n" + vias + "\n")
for m in ["REGISTER", "OPTIONS", "SUBSCRIBE", "PRACK", "NEWMETHOD", "invite", "SUBSCRIBX"]:
    seed("corpus-method-" + m, "%s sip:b@x SIP/2.0\nCall-ID: m@x\nCSeq: 5 %s\n\n" % (m, m))
seed("corpus-method-SUBSCRIBE-SUBSCRIBX", "SUBSCRIBE sip:x SIP/2.0\nCall-ID: a\nCSeq: 1 SUBSCRIBX\n\n")
for status in [100, 183, 299, 401, 407, 486, 503, 606, 699]:
    seed("corpus-status-%d" % status,
         "SIP/2.0 %d Whatever It Says\nCall-ID: s@x\nCSeq: 1 INVITE\n\n" % status)
seed("corpus-lower-version", "sip/2.0 200 OK\nCall-ID: v@x\nCSeq: 1 BYE\n\n")
seed("corpus-lower-request-version", "BYE sip:b@x sip/2.0\nCall-ID: v@x\nCSeq: 1 BYE\n\n")
for i, msg in enumerate([
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"SIP/2.0 99 Too Small\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\n\r\n",
    b"SIP/2.0 700 Too Big\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\n\r\n",
    b"SIP/2.0 2000 Four Digits\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\n\r\n",
    b" INVITE sip:b@x SIP/2.0\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    b"INV\xc3\x89TE sip:b@x SIP/2.0\r\n\r\n",
    b"INVITE sip:b@x SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 ACK\r\n\r\n",
    b"INVITE sip:b@x SIP/2.0\r\nCall-ID: a\r\n\r\n",
    b"INVITE sip:b@x SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n",
    b"INVITE sip:b@x SIP/2.0\r\nCall-ID:   \r\nCSeq: 1 INVITE\r\n\r\n",
    b"INVITE sip:b@x SIP/2.0\r\nCall-ID: a\r\nCSeq: -1 INVITE\r\n\r\n",
    b"INVITE sip:b@x SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 INVITE extra\r\n\r\n",
    b"INVITE sip:b@x SIP/2.0\r\nCall-ID: a\r\nCSeq: INVITE\r\n\r\n",
    b"INVITE sip:b@x SIP/2.0\r\nCall-ID: a\r\n\r\nCSeq: 1 INVITE\r\n",
    b"INVITE sip:b@x SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 INV",
    b"SIP/2.0 2",
]):
    seed("corpus-refused-%02d" % i, msg)

if os.path.isdir(OUT):
    shutil.rmtree(OUT)
os.makedirs(OUT)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print("%d seeds in %s" % (len(SEEDS), OUT))
