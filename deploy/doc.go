// Package deploy holds releasebot's Helm chart (helm/releasebot) and the tests that render it with Helm's
// own library. It is a module of its own so that Helm's dependencies stay out of the bot's go.mod.
package deploy
