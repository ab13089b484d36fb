#!/bin/sh
# Passes one mail, read from standard input, to the channel worker's bounce receipts:
#   post-bounce.sh /etc/notify/bounce-receipts.curlrc
# The file is a curl configuration holding the URL with the receipts token, readable only by the user
# that runs this (so the token is on no command line and in no world-readable file):
#   url = "https://<public host>/receipts/smtp?token=<CHANNEL_WORKER_RECEIPTS_TOKEN>"
# Run by the mail system of SMTP_RETURN_PATH's mailbox for each mail it receives, e.g. a Postfix
# pipe(8) transport, which runs its argv without a shell (hence this script):
#   notify-bounces unix - n n - - pipe user=notify-bounces argv=/usr/local/bin/post-bounce.sh /etc/notify/bounce-receipts.curlrc
# Exits 0 once the worker has taken the mail (2xx), or when it never will (400: not a mail; 413:
# too large), with a note; 75 (EX_TEMPFAIL) otherwise (a refusal of the token, the worker down, a
# redirect), so that the mail system keeps the mail and tries again later rather than lose it.
set -u
PATH=/usr/local/bin:/usr/bin:/bin
if [ "$#" -ne 1 ] || [ ! -r "$1" ]; then
  echo "usage: post-bounce.sh <readable curl config file with the receipts url>" >&2
  exit 64
fi
status=$(curl --silent --show-error --max-time 60 --config "$1" \
  -H 'Content-Type: message/rfc822' --data-binary @- -o /dev/null -w '%{http_code}') || exit 75
case "$status" in
  2??) exit 0 ;;
  400 | 413)
    echo "the receipts endpoint will never take this mail (HTTP $status): dropped" >&2
    exit 0
    ;;
  *)
    echo "the receipts endpoint did not take this mail (HTTP $status): try again later" >&2
    exit 75
    ;;
esac
