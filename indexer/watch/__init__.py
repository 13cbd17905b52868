"""`labsearch watch`: keep the index current as sources change (S3 events through SQS, file-system
notifications, eLabFTW polling), with a catch-up scan of every watched source at start."""
