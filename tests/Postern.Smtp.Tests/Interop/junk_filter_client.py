# Drives `postern localserve` as a user would, with Python's smtplib and imaplib, for
# LocalServeJunkFilterTests.cs:
#   teach SMTP_PORT IMAP_PORT N   sends N junk-like and N ordinary messages, then moves the junk
#                                 into Junk (UID MOVE) and marks the others $NotJunk (UID STORE)
#   probe SMTP_PORT IMAP_PORT N   sends N new messages of each kind and prints, per mailbox,
#                                 the Message-IDs found in INBOX and Junk, and the flags of the
#                                 messages moved into Junk by `teach`
import imaplib, random, smtplib, sys

JUNK = ("congratulations winner prize lottery claim free offer limited urgent pills cheap discount "
        "bitcoin investment guaranteed returns casino bonus million dollars inheritance beneficiary "
        "wire transfer verify account suspended").split()
HAM = ("meeting project roadmap notes lunch tomorrow review draft budget schedule team release "
       "deadline agenda minutes quarterly report feedback design document weekend family dinner "
       "birthday photos invoice thanks regards").split()
NEUTRAL = "the and you your for with this that have will from are our about please here there what when which more time".split()


def message(kind, tag, rnd):
    words = JUNK if kind == "junk" else HAM
    body = " ".join(rnd.choice(words if rnd.random() < 0.35 else NEUTRAL) for _ in range(80))
    subject = " ".join(rnd.choice(words) for _ in range(4))
    sender = f"promo{rnd.randrange(9)}@deals{rnd.randrange(5)}.example" if kind == "junk" else f"colleague{rnd.randrange(5)}@work.example"
    link = f"http://win{rnd.randrange(3)}.prizes.example/claim" if kind == "junk" else "https://wiki.work.example/page"
    return (f"From: {sender}\r\nTo: postern@localhost\r\nSubject: {subject}\r\n"
            f"Message-ID: <{tag}@junk.test>\r\n\r\n{body}\r\n{link}\r\n")


def send(smtp_port, kind, prefix, n, rnd):
    with smtplib.SMTP("127.0.0.1", smtp_port) as s:
        for i in range(n):
            tag = f"{prefix}-{kind}-{i}"
            s.sendmail("sender@outside.example", ["postern@localhost"], message(kind, tag, rnd).encode())


def login(imap_port):
    i = imaplib.IMAP4("127.0.0.1", imap_port)
    i.login("postern@localhost", "postern")
    return i


def uids_by_tag(i, mailbox):
    typ, _ = i.select(mailbox)
    assert typ == "OK", mailbox
    typ, data = i.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    found = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta, header = item[0].decode(), item[1].decode()
        uid = meta.split("UID ")[1].split()[0].rstrip(")")
        flags = meta.split("FLAGS (")[1].split(")")[0]
        tag = header.split("<")[1].split("@")[0]
        found[tag] = (uid, flags)
    return found


def main():
    what, smtp_port, imap_port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    if what == "teach":
        rnd = random.Random(1)
        send(smtp_port, "junk", "teach", n, rnd)
        send(smtp_port, "ham", "teach", n, rnd)
        i = login(imap_port)
        inbox = uids_by_tag(i, "INBOX")
        junk = [uid for tag, (uid, _) in inbox.items() if tag.startswith("teach-junk-")]
        ham = [uid for tag, (uid, _) in inbox.items() if tag.startswith("teach-ham-")]
        assert len(junk) == n and len(ham) == n, inbox
        typ, data = i.uid("MOVE", ",".join(junk), "Junk")
        assert typ == "OK", data
        typ, data = i.uid("STORE", ",".join(ham), "+FLAGS", "($NotJunk)")
        assert typ == "OK", data
        i.logout()
        print("taught")
    else:
        rnd = random.Random(2)
        send(smtp_port, "junk", "probe", n, rnd)
        send(smtp_port, "ham", "probe", n, rnd)
        i = login(imap_port)
        for mailbox in ("INBOX", "Junk"):
            for tag, (uid, flags) in sorted(uids_by_tag(i, mailbox).items()):
                print(f"{mailbox} {tag} {flags}")
        i.logout()


main()
