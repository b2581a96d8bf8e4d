#pragma once
// One function per `mlnetpol` subcommand; each returns the process exit code.
namespace mlnetpol::app {

int serve_command(int argc, char** argv);   // app/serve_command.cpp
int review_command(int argc, char** argv);  // app/review_command.cpp
int render_command(int argc, char** argv);  // app/render_command.cpp
int certs_command(int argc, char** argv);   // app/certs_command.cpp
int pause_command(int argc, char** argv);   // app/pause_command.cpp
int explain_command(int argc, char** argv); // app/explain_command.cpp
int matrix_command(int argc, char** argv);  // app/matrix_command.cpp
int flows_command(int argc, char** argv);   // app/flows_command.cpp

}  // namespace mlnetpol::app
