"""`autonomic export systemd | launchd | compose DIR`: a workspace's services as native units.

For users who move a workspace onto machines managed by those engines (like foreman's and honcho's
export). `exporter` turns the validated plan into files; `systemd`, `launchd` and `compose` render
them. What the engines cannot take over (probes, heartbeat hang detection, jobs) is listed in the
README.txt written beside the files.
"""
