"""What came back: bounces, auto-replies, replies from people and SMS delivery status.

Each run, before deciding, reads what came back since the last one (`collect`): the inbound
mailbox over IMAP (`mailbox`, messages judged by `inbound`) and Twilio's status of recent SMS
(`sms_status`), and records it in the send log. The schedule then reads it from the log like
SMS opt-outs, through the pure rules in `rules` (unreachable addresses and numbers, replies
that make an invoice's reminders wait) and `tasks` (what the account owner is asked to do).
"""
