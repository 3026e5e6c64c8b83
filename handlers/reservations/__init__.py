"""書かない窓口: counter reservations on LINE with QR codes, pre-filled forms, reminders and check-in."""
