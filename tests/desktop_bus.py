#!/usr/bin/python3
"""A stand-in for the desktop's session-bus services, for the real-window tests.

It owns org.freedesktop.Notifications (a notification daemon that supports actions),
org.kde.StatusNotifierWatcher (what tray icons register with) and org.freedesktop.ScreenSaver
(the session's idle time, which a test sets with lan.natter.Test.SetIdle(seconds)), and writes
one JSON line per call to the file given as the first argument, so a test can see what the app
asked for.

A test clicks a tray menu item with lan.natter.Test.ClickTray(label), and invokes a
notification's action the way a person clicking it would make the daemon do,
with:
  dbus-send --session --print-reply --dest=org.freedesktop.Notifications /org/freedesktop/Notifications \
      lan.natter.Test.Invoke uint32:ID string:default
"""

import json
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

NOTIFICATIONS = "org.freedesktop.Notifications"
WATCHER = "org.kde.StatusNotifierWatcher"
SCREENSAVER = "org.freedesktop.ScreenSaver"


class Log:
    def __init__(self, path):
        self.path = path

    def write(self, record):
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


class Notifications(dbus.service.Object):
    def __init__(self, bus, log, watcher):
        super().__init__(bus, "/org/freedesktop/Notifications")
        self.bus = bus
        self.log = log
        self.watcher = watcher
        self.next_id = 1

    @dbus.service.method(NOTIFICATIONS, in_signature="", out_signature="as")
    def GetCapabilities(self):
        return ["actions", "body", "persistence"]

    @dbus.service.method(NOTIFICATIONS, in_signature="", out_signature="ssss")
    def GetServerInformation(self):
        return ("natter-test", "natter", "1", "1.2")

    @dbus.service.method(NOTIFICATIONS, in_signature="susssasa{sv}i", out_signature="u")
    def Notify(self, app, replaces, icon, summary, body, actions, hints, timeout):
        nid = int(replaces) if replaces else self.next_id
        if not replaces:
            self.next_id += 1
        self.log.write({
            "call": "Notify", "id": nid, "replaces": int(replaces), "app": str(app),
            "summary": str(summary), "body": str(body), "actions": [str(a) for a in actions],
        })
        return nid

    @dbus.service.method(NOTIFICATIONS, in_signature="u", out_signature="")
    def CloseNotification(self, nid):
        self.log.write({"call": "CloseNotification", "id": int(nid)})
        self.NotificationClosed(nid, 3)

    @dbus.service.signal(NOTIFICATIONS, signature="uu")
    def NotificationClosed(self, nid, reason):
        pass

    @dbus.service.signal(NOTIFICATIONS, signature="us")
    def ActionInvoked(self, nid, action):
        pass

    @dbus.service.method("lan.natter.Test", in_signature="us", out_signature="")
    def Invoke(self, nid, action):
        self.ActionInvoked(nid, action)

    @dbus.service.method("lan.natter.Test", in_signature="", out_signature="s")
    def TrayLabels(self):
        """Every label of the registered tray items' menus, as the tray would show them (a
        JSON list)."""
        labels = []
        for owner, path in self.watcher.registered:
            _, layout = self.menu(owner, path).GetLayout(0, -1, ["label"])
            collect_labels(layout, labels)
        return json.dumps(labels)

    def menu(self, owner, path):
        item = self.bus.get_object(owner, path)
        menu_path = dbus.Interface(item, dbus.PROPERTIES_IFACE).Get(
            "org.kde.StatusNotifierItem", "Menu")
        return dbus.Interface(self.bus.get_object(owner, menu_path), "com.canonical.dbusmenu")

    @dbus.service.method("lan.natter.Test", in_signature="s", out_signature="b")
    def ClickTray(self, label):
        """Clicks the tray menu item `label` the way a desktop's tray does: through the
        item's exported menu (com.canonical.dbusmenu)."""
        for owner, path in self.watcher.registered:
            menu = self.menu(owner, path)
            _, layout = menu.GetLayout(0, -1, ["label"])
            found = find_item(layout, str(label))
            if found is not None:
                self.log.write({"call": "ClickTray", "label": str(label), "item": found})
                menu.Event(found, "clicked", dbus.String("", variant_level=1), dbus.UInt32(0))
                return True
        return False


def collect_labels(layout, out):
    _, props, children = layout
    if "label" in props:
        out.append(str(props["label"]).replace("_", ""))
    for child in children:
        collect_labels(child, out)


def find_item(layout, label):
    """The id of the menu item whose label (without mnemonic underscores) is `label`."""
    item_id, props, children = layout
    if str(props.get("label", "")).replace("_", "") == label:
        return int(item_id)
    for child in children:
        found = find_item(child, label)
        if found is not None:
            return found
    return None


class ScreenSaver(dbus.service.Object):
    """The session's idle time, in seconds, as the test sets it (0 until then)."""

    def __init__(self, bus, log):
        super().__init__(bus, "/org/freedesktop/ScreenSaver")
        self.log = log
        self.idle = 0

    @dbus.service.method(SCREENSAVER, in_signature="", out_signature="u")
    def GetSessionIdleTime(self):
        return dbus.UInt32(self.idle)

    @dbus.service.method("lan.natter.Test", in_signature="u", out_signature="")
    def SetIdle(self, seconds):
        self.idle = int(seconds)
        self.log.write({"call": "SetIdle", "seconds": self.idle})


class Watcher(dbus.service.Object):
    def __init__(self, bus, log):
        super().__init__(bus, "/StatusNotifierWatcher")
        self.log = log
        self.items = []
        # (bus name, object path) of each registered item
        self.registered = []

    @dbus.service.method(WATCHER, in_signature="s", out_signature="", sender_keyword="sender")
    def RegisterStatusNotifierItem(self, service, sender=None):
        self.items.append(str(service))
        if str(service).startswith("/"):
            self.registered.append((str(sender), str(service)))
        else:
            self.registered.append((str(service), "/StatusNotifierItem"))
        self.log.write({"call": "RegisterStatusNotifierItem", "service": str(service),
                        "sender": str(sender)})
        self.StatusNotifierItemRegistered(service)

    @dbus.service.method(WATCHER, in_signature="s", out_signature="")
    def RegisterStatusNotifierHost(self, service):
        pass

    @dbus.service.signal(WATCHER, signature="s")
    def StatusNotifierItemRegistered(self, service):
        pass

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="ss", out_signature="v")
    def Get(self, interface, prop):
        return self.GetAll(interface)[prop]

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="s", out_signature="a{sv}")
    def GetAll(self, interface):
        return {
            "RegisteredStatusNotifierItems": dbus.Array(self.items, signature="s"),
            "IsStatusNotifierHostRegistered": True,
            "ProtocolVersion": dbus.Int32(0),
        }


def main():
    log = Log(sys.argv[1])
    DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    watcher = Watcher(bus, log)
    keep = [
        dbus.service.BusName(NOTIFICATIONS, bus),
        dbus.service.BusName(WATCHER, bus),
        dbus.service.BusName(SCREENSAVER, bus),
        ScreenSaver(bus, log),
        Notifications(bus, log, watcher),
        watcher,
    ]
    log.write({"call": "ready"})
    GLib.MainLoop().run()
    del keep


if __name__ == "__main__":
    main()
