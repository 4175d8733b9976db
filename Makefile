# Packages, built from a copy of the tree (packaging/copy-tree) into $(BUILD_DIR); see
# docs/packaging.md.
#   make vendor    the wizard's vendored wheels (packaging/wizard-vendor.txt) into
#                  build/vendor-wheels: the only step that needs the network (PyPI)
#   make deb       Debian/Ubuntu: build/deb/enphase-monitor{,-setup}_<v>-<r>_all.deb, and the
#                  source package (.dsc, .orig.tar.xz, .orig-vendor.tar.xz with the wheels,
#                  .debian.tar.xz) that rebuilds them offline; .changes
#   make rpm       Fedora/RHEL:   build/rpm/RPMS/noarch/*.rpm and the SRPM (build/rpm/SRPMS,
#                  with the wheels as Source1); --nodeps on Debian, for CI
#   make selinux   the policy module: build/selinux/enphase_monitor.pp
#   make check     the packaging tests (tests/packaging)
#   make clean

BUILD_DIR ?= build
B := $(abspath $(BUILD_DIR))
VERSION := $(shell sed -n 's/^version *= *"\(.*\)"/\1/p' pyproject.toml)
NAME := enphase-monitor
# pyenv or a venv first on PATH breaks pybuild and rpmbuild: use the system's tools only
SYSENV := env -u PYTHONPATH -u PYTHONHOME -u VIRTUAL_ENV -u MAKEFLAGS -u MFLAGS -u MAKELEVEL PATH=/usr/sbin:/usr/bin:/sbin:/bin
# Debian's rpm database is empty, so build dependencies cannot be checked there
RPMBUILD_OPTS ?= $(if $(wildcard /etc/debian_version),--nodeps)
SELINUX_DEVEL ?= /usr/share/selinux/devel/Makefile
# the wizard's vendored wheels (Textual and its dependencies), fetched by `make vendor`
VENDOR_WHEELS ?= $(B)/vendor-wheels
VW := $(abspath $(VENDOR_WHEELS))

.PHONY: vendor deb rpm selinux check clean

vendor:
	packaging/fetch-vendor $(VW)

# Source format 3.0 (quilt): the upstream tarball is the tree without debian/, the second
# component (orig-vendor) holds the wizard's wheels and is unpacked into vendor/, where
# debian/rules finds them.
DEB_TREE = $(B)/deb/$(NAME)-$(VERSION)
deb: vendor
	rm -rf $(B)/deb
	packaging/copy-tree $(DEB_TREE)
	tar -C $(B)/deb --exclude=$(NAME)-$(VERSION)/debian --sort=name --owner=0 --group=0 \
	    --numeric-owner -cf - $(NAME)-$(VERSION) | xz -6 -T1 >$(B)/deb/$(NAME)_$(VERSION).orig.tar.xz
	packaging/fetch-vendor $(VW) $(B)/deb/$(NAME)_$(VERSION).orig-vendor.tar.xz
	tar -C $(DEB_TREE) -xf $(B)/deb/$(NAME)_$(VERSION).orig-vendor.tar.xz
	cd $(DEB_TREE) && $(SYSENV) dpkg-buildpackage -us -uc
	@ls -1 $(B)/deb/*.deb $(B)/deb/*.changes

rpm: vendor
	rm -rf $(B)/rpm
	packaging/copy-tree $(B)/rpm/tree/$(NAME)-$(VERSION)
	mkdir -p $(B)/rpm/SOURCES
	packaging/fetch-vendor $(VW) $(B)/rpm/SOURCES/$(NAME)-vendor-$(VERSION).tar.xz
	tar -C $(B)/rpm/tree -czf $(B)/rpm/SOURCES/$(NAME)-$(VERSION).tar.gz $(NAME)-$(VERSION)
	$(SYSENV) rpmbuild -ba $(RPMBUILD_OPTS) --define '_topdir $(B)/rpm' rpm/$(NAME).spec
	@ls -1 $(B)/rpm/RPMS/*/*.rpm $(B)/rpm/SRPMS/*.rpm

selinux:
	packaging/copy-tree $(B)/selinux-tree
	rm -rf $(B)/selinux && cp -a $(B)/selinux-tree/selinux $(B)/selinux && rm -rf $(B)/selinux-tree
	$(SYSENV) $(MAKE) -C $(B)/selinux -f $(SELINUX_DEVEL) enphase_monitor.pp
	@ls -1 $(B)/selinux/enphase_monitor.pp

check:
	python3 -m pytest -q tests/packaging

clean:
	rm -rf $(B)
