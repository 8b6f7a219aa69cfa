"""The demo office: its seed data (`seed`) and the `retiree-bot sandbox` command (`runner`)."""
