"""A notification service on a real D-Bus session bus, for the test of
`warden up --notify`: it owns org.freedesktop.Notifications, implements the
methods libnotify's notify-send calls (freedesktop Desktop Notifications
specification 1.2), and appends every Notify call to a JSON-lines file.

A desktop's own service (GNOME Shell, dunst, ...) needs a display; this one
speaks the same protocol on the same bus without one.

usage: notification_service.py OUT.jsonl   (prints "ready" once the name is owned)
"""
import json
import sys

from gi.repository import Gio, GLib

INTERFACE = """
<node>
  <interface name="org.freedesktop.Notifications">
    <method name="Notify">
      <arg type="s" name="app_name" direction="in"/>
      <arg type="u" name="replaces_id" direction="in"/>
      <arg type="s" name="app_icon" direction="in"/>
      <arg type="s" name="summary" direction="in"/>
      <arg type="s" name="body" direction="in"/>
      <arg type="as" name="actions" direction="in"/>
      <arg type="a{sv}" name="hints" direction="in"/>
      <arg type="i" name="expire_timeout" direction="in"/>
      <arg type="u" name="id" direction="out"/>
    </method>
    <method name="CloseNotification">
      <arg type="u" name="id" direction="in"/>
    </method>
    <method name="GetCapabilities">
      <arg type="as" name="capabilities" direction="out"/>
    </method>
    <method name="GetServerInformation">
      <arg type="s" name="name" direction="out"/>
      <arg type="s" name="vendor" direction="out"/>
      <arg type="s" name="version" direction="out"/>
      <arg type="s" name="spec_version" direction="out"/>
    </method>
    <signal name="NotificationClosed">
      <arg type="u" name="id"/>
      <arg type="u" name="reason"/>
    </signal>
  </interface>
</node>
"""

out = open(sys.argv[1], "a", encoding="utf-8")
node = Gio.DBusNodeInfo.new_for_xml(INTERFACE)
counter = [0]


def on_call(conn, sender, path, iface, method, params, invocation):
    if method == "Notify":
        app, _replaces, _icon, summary, body, _actions, hints, timeout = params.unpack()
        counter[0] += 1
        out.write(json.dumps({
            "app": app, "summary": summary, "body": body,
            "urgency": hints.get("urgency"), "timeout": timeout,
        }) + "\n")
        out.flush()
        invocation.return_value(GLib.Variant("(u)", (counter[0],)))
    elif method == "GetCapabilities":
        invocation.return_value(GLib.Variant("(as)", (["body", "body-markup"],)))
    elif method == "GetServerInformation":
        invocation.return_value(GLib.Variant("(ssss)", ("warden-test", "warden", "1", "1.2")))
    else:
        invocation.return_value(None)


def on_bus(conn, _name):
    conn.register_object("/org/freedesktop/Notifications", node.interfaces[0], on_call, None, None)


def on_name(_conn, _name):
    print("ready", flush=True)


def on_lost(_conn, name):
    print("could not own " + name, file=sys.stderr, flush=True)
    sys.exit(1)


Gio.bus_own_name(Gio.BusType.SESSION, "org.freedesktop.Notifications",
                 Gio.BusNameOwnerFlags.NONE, on_bus, on_name, on_lost)
GLib.MainLoop().run()
