# chartvault build. Every library is found with pkg-config; objects go
# under $(O) (build/ by default, build/asan for the sanitizer build).
#
#   make            build build/chartvault
#   make check      install missing packages, build, run every test
#   make demo       install, build, create a demo archive, ingest the samples, search
#   make asan       AddressSanitizer + UBSan build, and the tests under it
#   make bench      benchmarks, printed as ratios against the peer tools
#   make install PREFIX=/usr/local
#   make headercheck format-check clean

O ?= build
PREFIX ?= /usr/local
CC ?= cc
PKG_CONFIG ?= pkg-config

PKGS := lept tesseract libtiff-4 libpng libpq libgcrypt jansson inih zbar libqrencode \
	libmicrohttpd
TEST_PKGS := check

CSTD := -std=c17 -D_GNU_SOURCE
WARN := -Wall -Wextra -Werror -Wstrict-prototypes -Wvla -Wformat-security
OPT ?= -O2 -g
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	     -fno-sanitize-recover=undefined
ifeq ($(SAN),1)
OPT := -O1 -g $(SAN_FLAGS)
LDSAN := $(SAN_FLAGS)
endif

PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS = $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) 2>/dev/null)

CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) -MMD -MP -I. -I$(O)/gen $(PKG_CFLAGS) $(CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lcsv -lunistring -lpthread -lm $(LDLIBS)

# Modules in link order: a module may use the ones after it.
MODULES := viewer compliance ingest ocr archive index common
MODULE_SRCS = $(wildcard $(1)/*.c)
LIBS := $(foreach m,$(MODULES),$(O)/lib/libcv_$(m).a)

CLI_SRCS := $(wildcard cli/*.c)
CLI_OBJS := $(CLI_SRCS:%.c=$(O)/obj/%.o)

GEN_MIGRATIONS := $(O)/gen/migrations.c
MIGRATIONS := $(sort $(wildcard index/migrations/*.sql))
GEN_ASSETS := $(O)/gen/assets.c
ASSETS := $(sort $(wildcard viewer/static/*))

# Data the binary carries (scripts/embed-data.sh): the document-type
# taxonomy and the default classifier model.
GEN_DATA := $(O)/gen/ingest_data.c
DATA_FILES := data/doctypes.tsv data/default.model

UNIT_SRCS := $(wildcard tests/unit/*.c)
INTEG_SRCS := $(wildcard tests/integration/*.c)
TESTLIB_SRCS := $(wildcard tests/lib/*.c)
SUITES := $(patsubst tests/unit/check_%.c,%,$(filter tests/unit/check_%.c,$(UNIT_SRCS)))

BIN := $(O)/chartvault

.PHONY: all deps deps-test deps-bench check test unit integration browser asan bench \
	demo install clean headercheck format format-check
.DEFAULT_GOAL := all

all: $(BIN)

deps:
	@sh scripts/deps.sh build
deps-test:
	@sh scripts/deps.sh test
deps-bench:
	@sh scripts/deps.sh bench

# --- objects and libraries ---------------------------------------------

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(if $(filter tests/%,$<),$(TEST_CFLAGS)) -c -o $@ $<

$(GEN_MIGRATIONS): scripts/embed-sql.sh $(MIGRATIONS)
	@mkdir -p $(dir $@)
	sh scripts/embed-sql.sh $@ $(MIGRATIONS)

$(O)/obj/gen/migrations.o: $(GEN_MIGRATIONS)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(OPT) -c -o $@ $<

$(GEN_ASSETS): scripts/embed-assets.sh $(ASSETS)
	@mkdir -p $(dir $@)
	sh scripts/embed-assets.sh $@ $(ASSETS)

$(O)/obj/gen/assets.o: $(GEN_ASSETS)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(OPT) -c -o $@ $<

$(GEN_DATA): scripts/embed-data.sh $(DATA_FILES)
	@mkdir -p $(dir $@)
	sh scripts/embed-data.sh $@ doctypes=data/doctypes.tsv default_model=data/default.model

$(O)/obj/gen/ingest_data.o: $(GEN_DATA)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(OPT) -c -o $@ $<

# The search synonyms shipped with chartvault, built into the binary.
$(O)/gen/synonyms.c: scripts/embed-text.sh data/synonyms.txt
	@mkdir -p $(dir $@)
	sh scripts/embed-text.sh $@ cv_index__synonyms_text data/synonyms.txt

$(O)/obj/gen/synonyms.o: $(O)/gen/synonyms.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(OPT) -c -o $@ $<

# Default data the binary carries (index/patients.c: nickname groups).
$(O)/gen/nicknames.c: scripts/embed-text.sh data/nicknames.csv
	@mkdir -p $(dir $@)
	sh scripts/embed-text.sh $@ cv_index__nicknames_csv data/nicknames.csv

$(O)/obj/gen/nicknames.o: $(O)/gen/nicknames.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(OPT) -c -o $@ $<

define module_lib
$(O)/lib/libcv_$(1).a: $(patsubst %.c,$(O)/obj/%.o,$(call MODULE_SRCS,$(1))) $(if $(filter index,$(1)),$(O)/obj/gen/migrations.o $(O)/obj/gen/synonyms.o $(O)/obj/gen/nicknames.o) $(if $(filter viewer,$(1)),$(O)/obj/gen/assets.o) $(if $(filter ingest,$(1)),$(O)/obj/gen/ingest_data.o)
	@mkdir -p $$(dir $$@)
	rm -f $$@
	$(AR) rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call module_lib,$(m))))

$(BIN): $(CLI_OBJS) $(LIBS)
	$(CC) $(LDSAN) -o $@ $(CLI_OBJS) $(LIBS) $(LDLIBS_ALL)

# --- tests ---------------------------------------------------------------

$(O)/gen/suites.h: $(UNIT_SRCS)
	@mkdir -p $(dir $@)
	@{ for s in $(SUITES); do echo "SUITE($$s)"; done; } > $@.tmp && \
	  (cmp -s $@.tmp $@ || mv $@.tmp $@); rm -f $@.tmp

$(O)/obj/tests/unit/main.o: $(O)/gen/suites.h

$(O)/tests/unit: $(UNIT_SRCS:%.c=$(O)/obj/%.o) $(TESTLIB_SRCS:%.c=$(O)/obj/%.o) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS_ALL) $(TEST_LIBS)

$(O)/tests/integration: $(INTEG_SRCS:%.c=$(O)/obj/%.o) $(TESTLIB_SRCS:%.c=$(O)/obj/%.o) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS_ALL) $(TEST_LIBS)

# Tesseract must run single-threaded (see cli/main.c); the test binaries
# load it too, so they get the same environment.
TEST_ENV = OMP_THREAD_LIMIT=1 CV_BIN=$(abspath $(BIN)) CV_SRCDIR=$(CURDIR)

unit: $(O)/tests/unit $(BIN)
	$(TEST_ENV) $(O)/tests/unit

integration: $(O)/tests/integration $(BIN)
	$(TEST_ENV) $(O)/tests/integration

# The viewer in Debian's chromium (tests/browser/run.mjs); screenshots
# of the screens go to $(O)/browser-shots.
BROWSER_NODE := tests/browser/node_modules/.package-lock.json
$(BROWSER_NODE): tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --silent

browser: $(BIN) $(BROWSER_NODE)
	cd tests/browser && $(TEST_ENV) CV_SHOTS=$(abspath $(O))/browser-shots node run.mjs

test: unit integration browser

check: deps-test
	$(MAKE) all $(O)/tests/unit $(O)/tests/integration
	$(MAKE) test

ASAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
	   LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

asan: deps-test
	$(MAKE) O=build/asan SAN=1 all build/asan/tests/unit build/asan/tests/integration
	$(ASAN_ENV) $(MAKE) O=build/asan SAN=1 test

bench: deps-bench all $(O)/bench/search_bench
	sh bench/run.sh $(abspath $(BIN))
	sh bench/search.sh $(abspath $(BIN)) $(abspath $(O)/bench/search_bench)
	sh bench/viewer.sh $(abspath $(BIN))
	$(MAKE) bench-identity

# Patient identity read from rendered page headers (also in make bench).
# In /tmp: the archive's database server runs as the chartvault user, who
# may not reach a checkout in a private home folder.
.PHONY: bench-identity
bench-identity: deps-bench all
	w=$$(mktemp -d /tmp/cvbench-identity.XXXXXX) && chmod 0711 "$$w" && \
	bash bench/identity.sh $(abspath $(BIN)) "$$w" 12 && rm -rf "$$w"

# The viewer's bench alone (also part of make bench).
.PHONY: bench-viewer
bench-viewer: all
	sh bench/viewer.sh $(abspath $(BIN))

# The search bench's generator and driver (bench/search.sh).
$(O)/bench/search_bench: $(O)/obj/bench/search_bench.o $(O)/obj/bench/search_corpus.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS_ALL)

demo: deps
	$(MAKE) all
	sh scripts/demo.sh $(abspath $(BIN))

# --- install and hygiene ---------------------------------------------------

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/chartvault
	install -m 0644 docs/chartvault.1 $(DESTDIR)$(PREFIX)/share/man/man1/chartvault.1
	install -d $(DESTDIR)$(PREFIX)/share/chartvault
	install -m 0644 $(DATA_FILES) $(DESTDIR)$(PREFIX)/share/chartvault/

PUBLIC_HEADERS := common/cv.h common/log.h common/config.h \
	$(foreach m,archive index ocr ingest compliance viewer,$(wildcard $(m)/$(m).h))

headercheck:
	@for h in $(PUBLIC_HEADERS); do \
	  echo "#include \"$$h\"" | $(CC) $(CSTD) $(WARN) -pedantic -I. $(PKG_CFLAGS) -x c -fsyntax-only - || exit 1; \
	done; echo "headercheck: $(words $(PUBLIC_HEADERS)) headers OK"

FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format-14 -i $(FORMAT_SRCS)
format-check:
	clang-format-14 --dry-run --Werror $(FORMAT_SRCS)

clean:
	rm -rf build

-include $(shell find $(O)/obj -name '*.d' 2>/dev/null)
