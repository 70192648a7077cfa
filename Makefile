# darkstab: one GNU Makefile, module source lists written out.
#
#   make            build build/darkstab
#   make deps       install the Debian packages darkstab needs (apt-get)
#   make demo       deps + build + analyze the bundled samples
#   make check      unit tests, end-to-end tests, unit tests under ASan+UBSan
#   make bench      speed and memory benchmark (see README)
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
CC ?= cc

# Debian packages: libraries, test and benchmark tools.
DEB_PACKAGES = build-essential pkg-config clang libfixbuf-dev libglib2.0-dev libyaml-dev \
	check libsqlite3-dev libxxhash-dev libmicrohttpd-dev jq time tzdata nfdump \
	softflowd pmacct curl iproute2 sqlite3 libcairo2-dev chromium imagemagick \
	libcurl4-openssl-dev python3-aiosmtpd openssl libclang-rt-dev python3 \
	clickhouse-server clickhouse-client libzstd-dev

PKGS = libfixbuf glib-2.0 yaml-0.1 sqlite3 libxxhash libmicrohttpd cairo fontconfig libcurl \
	libzstd
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

WARN = -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wmissing-declarations \
	-Wshadow -Wpointer-arith -Wcast-qual -Wsign-compare
OPT ?= -O2 -g
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE -DDS_VERSION='"$(VERSION)"' $(OPT) $(WARN) -Iinclude \
	$(PKG_CFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lpthread -lm $(LDLIBS)

# --- modules, in pipeline order -------------------------------------------
CORE_SRCS = \
	src/core/rc.c \
	src/core/log.c \
	src/core/xmem.c \
	src/core/tarena.c \
	src/core/strbuf.c \
	src/core/base64.c \
	src/core/json.c \
	src/core/addr.c \
	src/core/parse.c \
	src/core/tz.c \
	src/core/proto.c \
	src/core/keyspec.c \
	src/core/cfg.c \
	src/core/cfg_parse.c \
	src/core/cfg_print.c

INGEST_SRCS = \
	src/ingest/ipfix_check.c \
	src/ingest/ipfix_decode.c \
	src/ingest/nf9.c \
	src/ingest/nf5.c \
	src/ingest/sflow.c \
	src/ingest/session.c \
	src/ingest/listen.c \
	src/ingest/archive.c \
	src/ingest/ingest_file.c \
	src/ingest/exporter_table.c

NORM_SRCS = \
	src/norm/norm.c

FILTER_SRCS = \
	src/filter/prefix.c

AGG_SRCS = \
	src/agg/key.c \
	src/agg/slotcal.c \
	src/agg/distinct.c \
	src/agg/topk.c \
	src/agg/detail.c \
	src/agg/agg.c

STABILITY_SRCS = \
	src/stability/topn.c \
	src/stability/stability.c \
	src/stability/result.c

EXPLAIN_SRCS = \
	src/explain/explain.c \
	src/explain/cause.c \
	src/explain/explain_codec.c \
	src/explain/reread.c

STORE_SRCS = \
	src/store/store.c \
	src/store/store_sqlite.c \
	src/store/clickhouse.c \
	src/store/ch_writer.c

REPORT_SRCS = \
	src/report/report.c \
	src/report/report_json.c \
	src/report/report_text.c \
	src/report/report_csv.c \
	src/report/report_explain.c \
	src/report/report_html.c \
	src/report/chart.c \
	src/report/report_day.c \
	src/report/report_day_text.c \
	src/report/report_day_json.c

MAIL_SRCS = \
	src/mail/mime.c \
	src/mail/smtp.c \
	src/mail/spool.c \
	src/mail/due.c \
	src/mail/mailer.c

PIPELINE_SRCS = \
	src/pipeline/pipeline.c \
	src/pipeline/series.c \
	src/pipeline/archive_reread.c \
	src/pipeline/promtext.c \
	src/pipeline/httpd.c \
	src/pipeline/collect.c \
	src/pipeline/cluster.c src/pipeline/cluster_live.c

CLI_SRCS = \
	src/cli/main.c \
	src/cli/common.c \
	src/cli/cmd_analyze.c \
	src/cli/cmd_collect.c \
	src/cli/cmd_results.c \
	src/cli/cmd_report.c \
	src/cli/cmd_show.c \
	src/cli/cmd_check_config.c \
	src/cli/cmd_clickhouse_schema.c

MODULES = core ingest norm filter agg stability explain store report mail pipeline
LIB_ORDER = pipeline mail report store explain stability agg filter norm ingest core

core_SRCS = $(CORE_SRCS)
ingest_SRCS = $(INGEST_SRCS)
norm_SRCS = $(NORM_SRCS)
filter_SRCS = $(FILTER_SRCS)
agg_SRCS = $(AGG_SRCS)
stability_SRCS = $(STABILITY_SRCS)
explain_SRCS = $(EXPLAIN_SRCS)
store_SRCS = $(STORE_SRCS)
report_SRCS = $(REPORT_SRCS)
mail_SRCS = $(MAIL_SRCS)
pipeline_SRCS = $(PIPELINE_SRCS)

ALL_LIB_SRCS = $(foreach m,$(MODULES),$($(m)_SRCS))
LIBS = $(foreach m,$(LIB_ORDER),$(BUILD)/lib$(m).a)

.PHONY: all deps demo check check-unit check-integ check-sanitize sanitize bench install clean checksrc \
	check-deps samples update-golden readme-table fuzz fuzz-bins check-fuzz soak check-integ-fuzz

all: $(BUILD)/darkstab $(BUILD)/darkstab-gen

# Schema files are compiled in, so the binary needs nothing beside it.
$(BUILD)/gen/schema.h: src/store/schema/v1.sql src/store/schema/v2.sql src/store/schema/v3.sql \
		src/store/schema/v4.sql src/store/schema/v5.sql src/store/schema/v6.sql \
		src/store/schema/v7.sql src/store/schema/v8.sql
	@mkdir -p $(dir $@)
	@{ echo '/* generated from src/store/schema/ by make */'; \
	   echo 'static const char *const store_schema[] = {'; \
	   for f in $^; do printf '    '; sed -e 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$$/\\n"/' $$f; echo ','; done; \
	   echo '};'; } > $@

$(BUILD)/obj/src/store/store_sqlite.o: $(BUILD)/gen/schema.h

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -I$(BUILD)/gen -MMD -MP -c $< -o $@

define module_lib
$(BUILD)/lib$(1).a: $$(patsubst %.c,$(BUILD)/obj/%.o,$$($(1)_SRCS))
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call module_lib,$(m))))

$(BUILD)/darkstab: $(patsubst %.c,$(BUILD)/obj/%.o,$(CLI_SRCS)) $(LIBS)
	$(CC) $(CFLAGS_ALL) -o $@ $(patsubst %.c,$(BUILD)/obj/%.o,$(CLI_SRCS)) $(LIBS) $(LDLIBS_ALL)

# --- samples ----------------------------------------------------------------
GEN_SRCS = samples/gen/gen.c samples/gen/scenario.c samples/gen/send.c
$(BUILD)/darkstab-gen: $(patsubst %.c,$(BUILD)/obj/%.o,$(GEN_SRCS)) $(BUILD)/libcore.a
	$(CC) $(CFLAGS_ALL) -o $@ $(patsubst %.c,$(BUILD)/obj/%.o,$(GEN_SRCS)) $(BUILD)/libcore.a \
		$(LDLIBS_ALL)

# --- dependencies -------------------------------------------------------------
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || \
	        missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "all Debian packages present"; fi

demo: deps
	$(MAKE) all
	@rm -f $(BUILD)/demo.db
	$(BUILD)/darkstab analyze -c samples/darkstab-sample.yaml --store $(BUILD)/demo.db \
		samples/data/*.ipfix
	$(BUILD)/darkstab report -q -c samples/darkstab-sample.yaml --store $(BUILD)/demo.db \
		--date 2013-03-06 --format html -o $(BUILD)/demo-2013-03-06.html
	@echo "the report of 2013-03-06 (a DDoS), for a browser: $(BUILD)/demo-2013-03-06.html"

# --- tests --------------------------------------------------------------------
UNIT_TESTS = core cfg ingest flows session norm archive filter agg topk stability explain store \
	report mail httpd pipeline
UNIT_BINS = $(foreach t,$(UNIT_TESTS),$(BUILD)/tests/check_$(t))
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

# The suites' helpers and the pcap reader, compiled once for all suites and replay.
TEST_OBJS = $(BUILD)/obj/tests/unit/testutil.o $(BUILD)/obj/tests/unit/pcap.o

$(UNIT_BINS): $(BUILD)/tests/check_%: $(BUILD)/obj/tests/unit/check_%.o $(TEST_OBJS) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(TEST_OBJS) $(LIBS) $(CHECK_LIBS) $(LDLIBS_ALL)

# Test tools: replay sends pcap captures over UDP, udpsink receives and decodes.
TOOL_BINS = $(BUILD)/tests/replay $(BUILD)/tests/udpsink $(BUILD)/tests/mkpcap

$(BUILD)/tests/replay: tests/tools/replay.c tests/unit/pcap.h $(BUILD)/obj/tests/unit/pcap.o \
		$(BUILD)/libcore.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ tests/tools/replay.c $(BUILD)/obj/tests/unit/pcap.o \
		$(BUILD)/libcore.a $(LDLIBS_ALL)

$(BUILD)/tests/mkpcap: tests/tools/mkpcap.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ tests/tools/mkpcap.c

$(BUILD)/tests/udpsink: tests/tools/udpsink.c $(BUILD)/libcore.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ tests/tools/udpsink.c $(BUILD)/libcore.a $(LDLIBS_ALL)

# Each stage appends "passed failed" to $(RESULTS); the last line sums them.
RESULTS ?= $(abspath $(BUILD))/test-results

# The end-to-end suite spends most of its time waiting (for slots, mails,
# timeouts), so the sanitized build runs it beside the normal one; the
# normal one, which ends first, goes on with the fuzz targets.
check:
	@mkdir -p $(BUILD) && rm -f $(RESULTS)
	@$(MAKE) -k --no-print-directory RESULTS=$(RESULTS) checksrc check-unit; s1=$$?; \
	    $(MAKE) -k -j2 -Otarget --no-print-directory RESULTS=$(RESULTS) check-integ-fuzz \
	        check-sanitize; s2=$$?; \
	    sh tests/summary.sh $(RESULTS) && [ $$s1 = 0 ] && [ $$s2 = 0 ]

check-integ-fuzz:
	@$(MAKE) -k --no-print-directory RESULTS=$(RESULTS) check-integ; s1=$$?; \
	    $(MAKE) -k --no-print-directory RESULTS=$(RESULTS) check-fuzz; s2=$$?; \
	    [ $$s1 = 0 ] && [ $$s2 = 0 ]

check-unit: $(UNIT_BINS)
	@RESULTS=$(RESULTS) TZ=UTC sh tests/run-unit.sh $(UNIT_BINS)

check-integ: all $(TOOL_BINS)
	@RESULTS=$(RESULTS) TZ=UTC sh tests/e2e/each.sh $(BUILD) tests/e2e/run.sh \
	    tests/e2e/collect.sh tests/e2e/explain.sh tests/e2e/report.sh tests/e2e/mail.sh \
	    tests/e2e/clickhouse.sh tests/e2e/reference.sh

# The unit tests once more, under AddressSanitizer and UndefinedBehaviorSanitizer
# (sanitize), and the end-to-end suite too, collector included (check-sanitize).
# DS_SANITIZED tells the scripts that resident memory is the sanitizers'.
SAN_OPT = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
sanitize:
	@$(MAKE) --no-print-directory BUILD=build/san CC=clang RESULTS=$(RESULTS) OPT="$(SAN_OPT)" \
		check-unit

check-sanitize:
	@DS_SANITIZED=1 $(MAKE) -k --no-print-directory BUILD=build/san CC=clang \
		RESULTS=$(RESULTS) OPT="$(SAN_OPT)" check-unit check-integ

# --- fuzzing (libFuzzer) ---------------------------------------------------------
# Each target of tests/fuzz runs FUZZ_SECONDS on its corpus in build/fuzz/corpus
# (seeded from tests/data, samples and config), with its dictionary; every
# input of tests/data/fuzz/TARGET (crashes found once) is run first as a
# regression.  make check runs each for FUZZ_CHECK_SECONDS.
FUZZ_TARGETS = datagram ipfix_file config parse checkpoint spool
FUZZ_SECONDS ?= 600
FUZZ_CHECK_SECONDS ?= 30
FUZZ_BUILD = build/fuzz
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_BINS = $(foreach t,$(FUZZ_TARGETS),$(FUZZ_BUILD)/fuzz_$(t))

fuzz-bins:
	@$(MAKE) -s --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang \
		OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $(FUZZ_SAN)" \
		$(FUZZ_BINS) $(FUZZ_BUILD)/seeds

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fsanitize=fuzzer -o $@ $< $(LIBS) $(LDLIBS_ALL)

$(FUZZ_BUILD)/seeds: tests/fuzz/seeds.c tests/unit/pcap.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ tests/fuzz/seeds.c tests/unit/pcap.c

fuzz: fuzz-bins
	@sh tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

check-fuzz: fuzz-bins
	@RESULTS=$(RESULTS) sh tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_CHECK_SECONDS) $(FUZZ_TARGETS)

# Banned functions, layout, reference config and include edges (check-deps).
checksrc:
	@if sh tests/checksrc.sh; then r="1 0"; else r="0 1"; fi; \
	    [ -z "$(RESULTS)" ] || echo "$$r" >> $(RESULTS); [ "$$r" = "1 0" ]

check-deps:
	@sh tests/check-deps.sh

# The README's configuration table is generated from the table of keys.
readme-table: $(BUILD)/darkstab
	@$(BUILD)/darkstab check-config --doc > $(BUILD)/cfg-table.md
	@awk -v t=$(BUILD)/cfg-table.md '/<!-- cfg-table end -->/ {skip = 0} \
	    !skip {print} /<!-- cfg-table begin -->/ {while ((getline l < t) > 0) print l; skip = 1}' \
	    README.md > README.md.new && mv README.md.new README.md

BENCH_BINS = $(BUILD)/bench/fixbuf_floor $(BUILD)/bench/ingest_only $(BUILD)/bench/agg_only \
	$(BUILD)/bench/hashtable

# SOAK_SECONDS=60 for a shorter memory run
SOAK_SECONDS ?= 600

bench: all $(BENCH_BINS) $(TOOL_BINS)
	@sh bench/run.sh $(BUILD)
	@sh bench/linear.sh $(BUILD)
	@sh bench/sources.sh $(BUILD)
	@sh bench/collect.sh $(BUILD)
	@sh bench/ceiling.sh $(BUILD)
	@sh bench/soak.sh $(BUILD) $(SOAK_SECONDS)
	@sh bench/clickhouse.sh $(BUILD)

# make soak: 30 minutes at 500,000 records a second from 100 exporters and 1%
# garbage (bench/soak-exporters.sh); SOAK_EXPORTERS_SECONDS=120 for a short one
SOAK_EXPORTERS_SECONDS ?= 1800
soak: all
	@sh bench/soak-exporters.sh $(BUILD) $(SOAK_EXPORTERS_SECONDS) 500000 100

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/doc/darkstab/config
	install -m 755 $(BUILD)/darkstab $(DESTDIR)$(PREFIX)/bin/darkstab
	install -m 755 $(BUILD)/darkstab-gen $(DESTDIR)$(PREFIX)/bin/darkstab-gen
	install -m 644 README.md $(DESTDIR)$(PREFIX)/share/doc/darkstab/
	install -m 644 config/*.yaml $(DESTDIR)$(PREFIX)/share/doc/darkstab/config/
	install -m 644 config/darkstab.service $(DESTDIR)$(PREFIX)/share/doc/darkstab/config/
	sed 's|/usr/local/bin/darkstab|$(PREFIX)/bin/darkstab|' config/darkstab.service > \
		$(BUILD)/darkstab.service
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 644 $(BUILD)/darkstab.service $(DESTDIR)$(PREFIX)/lib/systemd/system/

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# --- benchmark programs -------------------------------------------------------
$(BUILD)/bench/%: bench/%.c $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIBS) $(LDLIBS_ALL)
