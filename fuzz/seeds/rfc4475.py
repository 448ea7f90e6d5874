"""Seeds in the spirit of RFC 4475 (SIP torture tests): each named after the
RFC's test it imitates, written for siplat, not copied."""
from corpus import SDP, crlf, seed

# --- RFC 4475 3.1.1: valid messages -------------------------------------
seed("4475-wsinv", """INVITE sip:carol@chicago.example.net;oddparam SIP/2.0
tO :
 sip:carol@chicago.example.net ;   tag    = 77ab13
FROM   : "Ann \\\\\\"Q\\"" <sip:ann@atlanta.example.net>
  ;
  tag = x81k
max-FORWARDS: 0045
Call-ID: wsinv.7734hq@192.0.2.33
Content-Length   : 138
CSEQ: 00021
  INVITE
Via  : SIP  /   2.0
 /UDP
    192.0.2.34;rport;branch=z9hG4bKws01
s :
OddHeader:   a value
 that goes on
StrangeValueHeader: ;;,,;,;;
Content-Type: application/sdp
v:  SIP  / 2.0  / TCP     relay.example.net   ;
  branch  =   z9hG4bKws02  ,
 SIP  /    2.0   / UDP  192.0.2.35   ; branch=
 z9hG4bKws03
m:"A \\"quoted\\" name" <sip:ann@atlanta.example.net> ; p =
      q ;
  flagparam ; q = 0.5

""" + SDP)
seed("4475-intmeth", """!odd-Method_42*+`.%ok'~ sip:a_b.c~(d!e)&f'g+h$/i?,/;;*:&j+k=1,l!*m$n~o_p.(q-r)@example.net SIP/2.0
Via: SIP/2.0/TCP host7.example.net;branch=z9hG4bK-.!%66*_+`'~
To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:a_b.c~(d!e)&f'g+h$/i?,/;;*@example.net>
From: tok1~` tok2'+_ tok3*%!.- <sip:plain@example.net> ;par''~+*_!.-%="\xd0\x9f\xd1\x80\xd0\xb8";tag=_t~1'+`*%!-.
Call-ID: intmeth.w%3Fh~x`y!z*_+-.()<>:\\"/[]?{}
CSeq: 139122385 !odd-Method_42*+`.%ok'~
Max-Forwards: 255
extensionHeader-!.%*+_`'~:\xef\xbb\xbf\xe5\xa4\xa7\xe5\x81\x9c\xe9\x9b\xbb
Content-Length: 0

""")
seed("4475-esc01", """INVITE sip:sips%3Aann%40example.org@example.net SIP/2.0
To: sip:%61nn@example.net
From: <sip:I%20have%20spaces@example.net>;tag=e1
Max-Forwards: 70
i: esc01.2398fjq039
CSeq: 88 INVITE
Via: SIP/2.0/UDP host5.example.net;rport;branch=z9hG4bKesc01
C: application/sdp
Contact:
  <sip:c%61ller@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>
Content-Length: 138

""" + SDP)
seed("4475-escnull", """REGISTER sip:example.net SIP/2.0
To: sip:null-%00-null@example.net
From: sip:null-%00-null@example.net;tag=en1
Call-ID: escnull.81hq2
Via: SIP/2.0/UDP host5.example.net;rport;branch=z9hG4bKescnull
CSeq: 409 REGISTER
Max-Forwards: 70
Contact: <sip:%00@host5.example.net>
Contact: <sip:%00%00@host5.example.net>
L:0

""")
seed("4475-esc02", """RE%47IST%45R sip:registrar.example.net SIP/2.0
To: "%Z%45" <sip:res@example.net>
From: "%Z%45" <sip:res@example.net>;tag=f9
i: esc02.uo3n4
Via: SIP/2.0/TCP host.example.net;rport;branch=z9hG4bK2%fz
CSeq: 711 RE%47IST%45R
Max-Forwards: 70
Contact: <sip:a1@host1.example.net>
C%6Fntact: <sip:a2@host2.example.net>
l: 0

""")
seed("4475-lwsdisp", """OPTIONS sip:user@example.net SIP/2.0
To: sip:user@example.net
From: caller<sip:caller@example.org>;tag=lw1
Max-Forwards: 70
Call-ID: lwsdisp.a93nv
CSeq: 3 OPTIONS
Via: SIP/2.0/UDP host9.example.org;branch=z9hG4bKlwsdisp
l: 0

""")
long_tag = "t" * 300
long_via = "".join(
    "Via: SIP/2.0/TCP relay%d.example.net;branch=z9hG4bK%s\n" % (i, "b" * 120) for i in range(12)
)
seed("4475-longreq", ("""INVITE sip:user@example.net SIP/2.0
To: "I have a very long display name, far longer than anyone's" <sip:user@example.net>;tag=%s
From: sip:caller@example.org;tag=%s
Call-ID: longreq.%s
CSeq: 17 INVITE
Unknown-Long-Name-%s: unknown-long-value-%s
Max-Forwards: 67
%sContact: <sip:caller@host.example.org;%s=1>
Content-Type: application/sdp
l: 138

""" % (long_tag, long_tag, "c" * 400, "n" * 100, "v" * 400, long_via, "p" * 200)) + SDP)
seed("4475-dblreq", """REGISTER sip:example.net SIP/2.0
To: sip:j.user@example.net
From: sip:j.user@example.net;tag=db1
Max-Forwards: 70
Call-ID: dblreq.0ha0isn
CSeq: 8 REGISTER
Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKdblreq1
Contact: <sip:j.user@host.example.net>
l: 0

INVITE sip:joe@example.net SIP/2.0
t: sip:joe@example.net
From: sip:caller@example.net;tag=db2
Max-Forwards: 70
Call-ID: dblreq.second
CSeq: 9 INVITE
Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKdblreq2
l: 0

""")
seed("4475-semiuri", """OPTIONS sip:user;par=u%40example.net@example.net SIP/2.0
To: sip:j_user@example.net
From: sip:caller@example.org;tag=sm1
Max-Forwards: 70
Call-ID: semiuri.0ha0isn
CSeq: 8 OPTIONS
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKsemiuri
l: 0

""")
seed("4475-transports", """OPTIONS sip:user@example.net SIP/2.0
To: sip:user@example.net
From: <sip:caller@example.net>;tag=tp1
Max-Forwards: 70
Call-ID: transports.kijh4akdnaqjkwendsasfdj
Accept: application/sdp
CSeq: 60 OPTIONS
Via: SIP/2.0/UDP t1.example.net;branch=z9hG4bKtr1
Via: SIP/2.0/SCTP t2.example.net;branch=z9hG4bKtr2
Via: SIP/2.0/TLS t3.example.net;branch=z9hG4bKtr3
Via: SIP/2.0/UNKNOWN t4.example.net;branch=z9hG4bKtr4
Via: SIP/2.0/TCP t5.example.net;branch=z9hG4bKtr5
l: 0

""")
seed("4475-mpart01", crlf("""MESSAGE sip:kumiko@example.org SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-mpart01;rport
Max-Forwards: 70
To: <sip:kumiko@example.org>
From: <sip:fluffy@example.com>;tag=mp1
Call-ID: mpart01.9ad8f7a0b
CSeq: 1 MESSAGE
Content-Type: multipart/mixed;boundary=7a9cbec02ceef655
Content-Length: 200

--7a9cbec02ceef655
Content-Type: text/plain

hello
--7a9cbec02ceef655
Content-Type: application/octet-stream
Content-Transfer-Encoding: binary

""") + bytes(range(256)) + b"\r\n--7a9cbec02ceef655--\r\n")
seed("4475-unreason", """SIP/2.0 200 = 2**3 * 5**2 \xd0\xbd\xd0\xbe \xd1\x81\xd1\x82\xd0\xbe \xe4\xb9\x9d\xe5\x8d\x81\xe4\xb9\x9d
Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK-unreason
Call-ID: unreason.1234ksdfak3j2erwedfsASdf
CSeq: 35 INVITE
From: sip:user@example.net;tag=11141343
To: sip:user@example.com;tag=2229
Content-Length: 138
Content-Type: application/sdp
Contact: <sip:user@host198.example.com>

""" + SDP)
seed("4475-noreason", """SIP/2.0 100 
Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK-noreason
Call-ID: noreason.asndj203insdf99223ndf
CSeq: 35 INVITE
From: <sip:user@example.net>;tag=39ansfi3
To: <sip:user@example.edu>;tag=902jndnke3
Content-Length: 0
Contact: <sip:user@host105.example.com>

""")
seed("4475-noreason-nosp", """SIP/2.0 180
i: noreason-nosp.a8
CSeq: 2 INVITE

""")
seed("4475-inv2543", """INVITE sip:UserB@example.net SIP/2.0
Via: SIP/2.0/UDP iftgw.example.net:4000
From: <sip:+13035551111@ift.client.example.net;user=phone>
To: sip:+16505552222@ss1.example.net;user=phone
Call-ID: inv2543.1717@ift.client.example.net
CSeq: 56 INVITE
Content-Type: application/sdp
Content-Length: 138

""" + SDP)

# --- RFC 4475 3.1.2: invalid messages (what the scanner still pairs, or refuses) ---
seed("4475-badinv01", """INVITE sip:user@example.net SIP/2.0
To: sip:j.user@example.net
From: sip:caller@example.net;tag=134161461246
Max-Forwards: 7
Call-ID: badinv01.0ha0isndaksdjasdf3234nas
CSeq: 8 INVITE
Via: SIP/2.0/UDP 192.0.2.15;;,;,,
Contact: "Joe" <sip:joe@example.org>;;;;
Content-Length: 138
Content-Type: application/sdp

""" + SDP)
seed("4475-clerr", """INVITE sip:user@example.net SIP/2.0
Max-Forwards: 80
To: sip:j.user@example.net
From: sip:caller@example.net;tag=93942939o2
Contact: <sip:caller@hungry.example.net>
Call-ID: clerr.0ha0isndaksdjweiafasdk3
CSeq: 8 INVITE
Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523
Content-Type: application/sdp
Content-Length: 9999

""" + SDP)
seed("4475-ncl", """INVITE sip:user@example.net SIP/2.0
Max-Forwards: 254
To: sip:j.user@example.net
From: sip:caller@example.net;tag=32394234
Call-ID: ncl.0ha0isndaksdj2193423r542w35
CSeq: 0 INVITE
Via: SIP/2.0/UDP 192.0.2.53;branch=z9hG4bKkdjuw
Contact: <sip:caller@example53.example.net>
Content-Type: application/sdp
Content-Length: -999

""" + SDP)
seed("4475-scalar02", """REGISTER sip:example.net SIP/2.0
Via: SIP/2.0/TCP host129.example.net;branch=z9hG4bKzzxdiwo34sw;received=192.0.2.129
To: <sip:user@example.net>
From: <sip:user@example.net>;tag=239232jh3
CSeq: 36893488147419103232 REGISTER
Call-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32
Max-Forwards: 300
Expires: 1000000000000000000000
Contact: <sip:user@host129.example.net>
  ;expires=280297596632815
Content-Length: 0

""")
seed("4475-scalarlg", """SIP/2.0 503 Service Unavailable
Via: SIP/2.0/TCP host129.example.com;branch=zzzzzzxdiwo34sw;received=192.0.2.129
To: <sip:user@example.com>
From: <sip:other@example.net>;tag=2easdjfejw
CSeq: 9292394834772304023312 OPTIONS
Call-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r
Retry-After: 949302838503028349304023988
Warning: 1812 overture "In Progress"
Content-Length: 0

""")
seed("4475-cseq-2p31", """INVITE sip:b@example.net SIP/2.0
Call-ID: cseq-2p31.a
CSeq: 2147483648 INVITE

""")
seed("4475-cseq-max", """INVITE sip:b@example.net SIP/2.0
Call-ID: cseq-max.a
CSeq: 2147483647 INVITE

""")
seed("4475-quotbal", """INVITE sip:user@example.net SIP/2.0
To: "Mr. J. User <sip:j.user@example.net>
From: sip:caller@example.net;tag=93334
Max-Forwards: 10
Call-ID: quotbal.aksdj
Contact: <sip:caller@host59.example.net>
CSeq: 8 INVITE
Via: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234
Content-Type: application/sdp
Content-Length: 138

""" + SDP)
seed("4475-ltgtruri", """INVITE <sip:user@example.net> SIP/2.0
To: sip:user@example.net
From: sip:caller@example.net;tag=39291
Max-Forwards: 23
Call-ID: ltgtruri.1@192.0.2.5
CSeq: 1 INVITE
Via: SIP/2.0/UDP 192.0.2.5
Contact: <sip:caller@host5.example.net>
Content-Type: application/sdp
Content-Length: 138

""" + SDP)
seed("4475-lwsruri", """INVITE sip:user@example.net; lr SIP/2.0
To: sip:user@example.net;tag=3xfe-9921883-z9f
From: sip:caller@example.net;tag=231413434
Max-Forwards: 5
Call-ID: lwsruri.asdfasdoeoi2323-asdfwrs
CSeq: 2923420123 INVITE
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKkdjuw
Contact: <sip:caller@host1.example.net>
l: 0

""")
seed("4475-lwsstart", """INVITE  sip:user@example.net  SIP/2.0
Max-Forwards: 8
To: sip:user@example.net
From: sip:caller@example.net;tag=8814
Call-ID: lwsstart.dfknq234oi243099adsdfnawe3@example.net
CSeq: 1893884 INVITE
Via: SIP/2.0/UDP host1.example.net;branch=z9hG4bKkdjuw3923
Contact: <sip:caller@host1.example.net>
l: 0

""")
seed("4475-trws", "OPTIONS sip:remote-target@example.net SIP/2.0  \n" + """Via: SIP/2.0/TCP host1.example.net;branch=z9hG4bK299342093
To: <sip:remote-target@example.net>
From: <sip:local-resource@example.net>;tag=329429089
Call-ID: trws.oicu34958239neffasdhr2345r
Accept: application/sdp
CSeq: 238923 OPTIONS
Max-Forwards: 70
Content-Length: 0

""")
seed("4475-escruri", """INVITE sip:user@example.net?Route=%3Csip:example.net%3E SIP/2.0
To: sip:user@example.net
From: sip:caller@example.net;tag=341518
Max-Forwards: 7
Contact: <sip:caller@host39923.example.net>
Call-ID: escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5
CSeq: 149209342 INVITE
Via: SIP/2.0/UDP host-of-the-hour.example.net;branch=z9hG4bKkdjuw
Content-Type: application/sdp
Content-Length: 138

""" + SDP)
seed("4475-baddate", """INVITE sip:user@example.net SIP/2.0
To: sip:user@example.net
From: sip:caller@example.net;tag=2234923
Max-Forwards: 70
Call-ID: baddate.239423mnsadf3j23lj42--sedfnm234
CSeq: 1392934 INVITE
Via: SIP/2.0/UDP host.example.net;branch=z9hG4bKkdjuw
Date: Fri, 01 Jan 2010 16:00:00 EST
Contact: <sip:caller@host5.example.net>
Content-Type: application/sdp
Content-Length: 138

""" + SDP)
seed("4475-regbadct", """REGISTER sip:example.net SIP/2.0
To: sip:user@example.net
From: sip:user@example.net;tag=998332
Max-Forwards: 70
Call-ID: regbadct.k345asrl3fdbv@10.0.0.1
CSeq: 1 REGISTER
Via: SIP/2.0/UDP 135.180.130.133:5060;branch=z9hG4bKkdjuw
Contact: sip:user@example.net?Route=%3Csip:sip.example.net%3E
l: 0

""")
seed("4475-badaspec", """OPTIONS sip:user@example.org SIP/2.0
Via: SIP/2.0/UDP host4.example.net:5060;branch=z9hG4bKkdju43234
Max-Forwards: 70
From: "Bell, Alexander" <sip:a.g.bell@example.net>;tag=433423
To: "Watson, Thomas" < sip:t.watson@example.org >
Call-ID: badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3
Accept: application/sdp
CSeq: 3923239 OPTIONS
l: 0

""")
seed("4475-baddn", """OPTIONS sip:t.watson@example.org SIP/2.0
Via:     SIP/2.0/UDP c.example.net:5060;branch=z9hG4bKkdjuw
Max-Forwards:      70
From:    Bell, Alexander <sip:a.g.bell@example.net>;tag=43
To:      Watson, Thomas <sip:t.watson@example.org>
Call-ID: baddn.31415@c.example.net
Accept: application/sdp
CSeq:    3923239 OPTIONS
l: 0

""")
seed("4475-badvers", """OPTIONS sip:t.watson@example.org SIP/7.0
Via:     SIP/7.0/UDP c.example.net;branch=z9hG4bKkdjuw
Max-Forwards:     70
From:    A. Bell <sip:a.g.bell@example.net>;tag=qweoiqpe
To:      T. Watson <sip:t.watson@example.org>
Call-ID: badvers.31417@c.example.net
CSeq:    1 OPTIONS
l: 0

""")
seed("4475-mismatch01", """OPTIONS sip:user@example.net SIP/2.0
To: sip:j.user@example.net
From: sip:caller@example.net;tag=34525
Max-Forwards: 6
Call-ID: mismatch01.dj0234sxdfl3
CSeq: 8 INVITE
Via: SIP/2.0/UDP host.example.net;branch=z9hG4bKkdjuw
l: 0

""")
seed("4475-mismatch02", """NEWMETHOD sip:user@example.net SIP/2.0
To: sip:j.user@example.net
From: sip:caller@example.net;tag=34525
Max-Forwards: 6
Call-ID: mismatch02.dj0234sxdfl3
CSeq: 8 INVITE
Contact: <sip:caller@host.example.net>
Via: SIP/2.0/UDP host.example.net;branch=z9hG4bKkdjuw
Content-Type: application/sdp
l: 138

""" + SDP)
seed("4475-bigcode", """SIP/2.0 4294967301 better not break the receiver
Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe
Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i
CSeq: 353494 INVITE
From: <sip:user@example.net>;tag=39ansfi3
To: <sip:user@example.edu>;tag=902jndnke3
Content-Length: 0
Contact: <sip:user@host105.example.com>

""")
# --- RFC 4475 3.2-3.4: transaction and application layer ------------------
seed("4475-badbranch", """OPTIONS sip:user@example.net SIP/2.0
To: sip:user@example.net
From: sip:caller@example.org;tag=33242
Max-Forwards: 3
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK
Accept: application/sdp
Call-ID: badbranch.sadonfo23i420jv0as0derf3j3n
CSeq: 8 OPTIONS
l: 0

""")
seed("4475-insuf", """INVITE sip:user@example.net SIP/2.0
l: 0
Contact: <sip:caller@host.example.net>
Via: SIP/2.0/UDP 192.0.2.5;branch=z9hG4bKinsuf
CSeq: 1 INVITE

""")
seed("4475-multi01", """INVITE sip:user@company.example.net SIP/2.0
Contact: <sip:caller@host25.example.net>
Via: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKkdjuw
Max-Forwards: 70
CSeq: 5 INVITE
Call-ID: multi01.98asdh@192.0.2.1
CSeq: 59 INVITE
Call-ID: multi01.98asdh@192.0.2.2
From: sip:caller@example.net;tag=3413415
To: sip:user@example.net
To: sip:other@example.net
From: sip:caller@example.net;tag=2923420123
Content-Type: application/sdp
l: 138

""" + SDP)
seed("4475-mcl01", """OPTIONS sip:user@example.net SIP/2.0
Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bK293423
To: sip:user@example.net
From: sip:other@example.net;tag=3923942
Call-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf
CSeq: 15932 OPTIONS
Content-Length: 13
Max-Forwards: 60
Content-Length: 5
Content-Type: text/plain

There's no way to know how many octets are supposed to be here.
""")
seed("4475-zeromf", """OPTIONS sip:user@example.net SIP/2.0
To: sip:user@example.net
From: sip:caller@example.net;tag=3ghsd41
Call-ID: zeromf.jfasdlfnm2o2l43r5u0asdfas
CSeq: 39234321 OPTIONS
Via: SIP/2.0/UDP host1.example.net;branch=z9hG4bKkdjuw2349i
Max-Forwards: 0
Content-Length: 0

""")
seed("4475-unkscm", """OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0
To: sip:user@example.net
From: sip:caller@example.net;tag=384
Max-Forwards: 3
Call-ID: unkscm.nasdfasser0q239nwsdfasdkl34
CSeq: 3923423 OPTIONS
Via: SIP/2.0/TCP host9.example.net;branch=z9hG4bKkdjuw39234
Content-Length: 0

""")
seed("4475-bext01", """OPTIONS sip:user@example.net SIP/2.0
To: sip:j_user@example.net
From: sip:caller@example.net;tag=242etr
Max-Forwards: 6
Call-ID: bext01.0ha0isndaksdj
Require: nothingSupportsThis, nothingSupportsThisEither
Proxy-Require: noProxiesSupportThis
CSeq: 8 OPTIONS
Via: SIP/2.0/UDP host.example.net;branch=z9hG4bKkdjuw
l: 0

""")
seed("4475-cparam01", """REGISTER sip:example.net SIP/2.0
Via: SIP/2.0/UDP saturn.example.net:5060;branch=z9hG4bKkdjuw
Max-Forwards: 70
From: sip:watson@example.net;tag=DkfVgjkrtMwaerKKpe
To: sip:watson@example.net
Call-ID: cparam01.70710@saturn.example.net
CSeq: 2 REGISTER
Contact: sip:+19725552222@gw1.example.net;unknownparam
l: 0

""")
seed("4475-bcast", """SIP/2.0 200 OK
Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923
Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23
Call-ID: bcast.0384840201234ksdfak3j2erwedfsASdf
CSeq: 35 INVITE
From: sip:user@example.net;tag=11141343
To: sip:user@example.edu;tag=2229
Content-Length: 0
Contact: <sip:user@host28.example.com>

""")
