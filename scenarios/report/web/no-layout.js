// Stands in for the graph layout library when node_modules is missing
// (scripts/setup.sh installs it): the wait-for graph is shown as a list.
var dagre = undefined;
