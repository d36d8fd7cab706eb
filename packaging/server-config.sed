# Turns config.example.yaml into the Debian package's /etc/codeterm/config.yaml:
# the same keys, with a server's values (make deb).
1i\
# codeterm server configuration, installed by the Debian package as a conffile\
# (your changes survive upgrades). Before the first start, fill in public_url and\
# choose how browsers reach the server over HTTPS: /usr/share/doc/codeterm/OPERATIONS.md.\
# After a change: systemctl reload codeterm (re-executes the server in place).\
#
s|^# data_dir: .*|data_dir: /var/lib/codeterm|
s|^public_url: ""|public_url: ""   # FILL IN: the address people use, e.g. https://code.example.com|
s|^  user_homes: false .*|  user_homes: true              # each codeterm user gets a HOME under data_dir/homes/<user>|
/^# codeterm configuration. Every key is shown/,/^# optional/d
