#!/bin/sh
# Copy the prebuilt UMD bundles of the pinned bpmn-js and dmn-js (package.json + package-lock.json) into
# api/static/vendor/, unmodified, with their licences. Run from the repository root after
# `npm ci --prefix tools/studio`.
set -eu
src=tools/studio/node_modules
dst=api/static/vendor
cp "$src/bpmn-js/dist/bpmn-modeler.production.min.js" "$dst/bpmn-js/"
mkdir -p "$dst/bpmn-js/bpmn-font/css" "$dst/bpmn-js/bpmn-font/font"
cp "$src/bpmn-js/dist/assets/bpmn-font/css/bpmn.css" "$dst/bpmn-js/bpmn-font/css/"
cp "$src/bpmn-js/dist/assets/bpmn-font/font/"bpmn.woff* "$dst/bpmn-js/bpmn-font/font/"
mkdir -p "$dst/dmn-js/dmn-font/css" "$dst/dmn-js/dmn-font/font"
cp "$src/dmn-js/dist/dmn-modeler.production.min.js" "$src/dmn-js/LICENSE" "$dst/dmn-js/"
for css in diagram-js dmn-js-shared dmn-js-drd dmn-js-decision-table dmn-js-decision-table-controls \
           dmn-js-literal-expression dmn-js-boxed-expression dmn-js-boxed-expression-controls; do
  cp "$src/dmn-js/dist/assets/$css.css" "$dst/dmn-js/"
done
cp "$src/dmn-js/dist/assets/dmn-font/css/dmn.css" "$dst/dmn-js/dmn-font/css/"
cp "$src/dmn-js/dist/assets/dmn-font/font/"dmn.woff* "$dst/dmn-js/dmn-font/font/"
