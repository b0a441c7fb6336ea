"""The domain kind (R10): registrations, their payment, renewals and reminders."""
