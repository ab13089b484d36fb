#!/bin/sh
# Passes one mail, read from standard input, to the channel worker's bounce receipts:
#   post-bounce.sh 'https://<public host>/receipts/smtp?token=<CHANNEL_WORKER_RECEIPTS_TOKEN>'
# Run by the mail system of SMTP_RETURN_PATH's mailbox for each mail it receives, e.g. a Postfix
# pipe(8) transport (which runs its argv without a shell, hence this script):
#   notify-bounces unix - n n - - pipe flags=q user=nobody argv=/usr/local/bin/post-bounce.sh https://...
# Exits 0 once the worker has taken the mail, and 75 (EX_TEMPFAIL) otherwise, so that Postfix keeps
# it and tries again later rather than dropping it or bouncing it in turn.
set -u
if [ "$#" -ne 1 ]; then
  echo "usage: post-bounce.sh <receipts URL>" >&2
  exit 64
fi
curl --silent --show-error --fail --max-time 60 \
  -H 'Content-Type: message/rfc822' --data-binary @- -o /dev/null "$1" || exit 75
