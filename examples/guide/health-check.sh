#!/bin/bash
# Sidecar health check script (the earlier tool's implementation guide, "Monitoring and
# Maintenance"), run by our standalone executable under the earlier tool's name.
#   examples/guide/health-check.sh /photos
# RUST_TOOL: the executable, or a link to it named sportball-sidecar-rust (the default: the one the
# Makefile beside this script makes); LOG_DIR: where the log goes (default: here).

SIDECAR_DIR="$1"
HERE="$(cd "$(dirname "$0")" && pwd)"
RUST_TOOL="${RUST_TOOL:-$HERE/.bin/sportball-sidecar-rust}"
LOG_FILE="${LOG_DIR:-.}/sidecar_health_$(date +%Y%m%d_%H%M%S).log"

echo "🏥 Starting sidecar health check..."
echo "📁 Directory: $SIDECAR_DIR"
echo "📝 Log file: $LOG_FILE"

# Check the binary
if [ ! -x "$RUST_TOOL" ]; then
    echo "❌ Binary not found: $RUST_TOOL (make -C $HERE build-rust-sidecar)" | tee -a "$LOG_FILE"
    exit 1
fi

# Validate sidecars
echo "📋 Validating sidecars..." | tee -a "$LOG_FILE"
VALIDATION_RESULT=$("$RUST_TOOL" validate --input "$SIDECAR_DIR" --workers 8 2>/dev/null)
echo "$VALIDATION_RESULT" | tee -a "$LOG_FILE" >/dev/null

# Check for errors
INVALID_COUNT=$(echo "$VALIDATION_RESULT" | jq '.invalid_files // 0')
if [ "$INVALID_COUNT" -gt 0 ]; then
    echo "⚠️  Found $INVALID_COUNT invalid files" | tee -a "$LOG_FILE"
fi

# Get statistics
echo "📊 Getting statistics..." | tee -a "$LOG_FILE"
STATS_RESULT=$("$RUST_TOOL" stats --input "$SIDECAR_DIR" 2>&1)
echo "$STATS_RESULT" | tee -a "$LOG_FILE" >/dev/null

# Format analysis
echo "📈 Format analysis..." | tee -a "$LOG_FILE"
FORMAT_RESULT=$("$RUST_TOOL" format-stats --input "$SIDECAR_DIR" 2>&1)
echo "$FORMAT_RESULT" | tee -a "$LOG_FILE" >/dev/null

echo "✅ Health check complete!" | tee -a "$LOG_FILE"
