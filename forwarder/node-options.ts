/**
 * The V8 heap limits the forwarder runs with in the image and the chart (NODE_OPTIONS). With
 * V8's defaults a young generation of 16-32 MiB semi-spaces and a lazily collected old space let
 * resident memory climb by ~170 MiB over a few thousand connect/close cycles while the live heap
 * stays near 26 MB; these keep it flat (bench:churn measures both).
 */
export const FORWARDER_NODE_OPTIONS = '--max-semi-space-size=2 --max-old-space-size=256';
