"""The kiosk's local agent (``python -m kiosk.agent``); see server.py and kiosk/README.md."""
